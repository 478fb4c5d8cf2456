"""Collection names, topic names and defaults of stream_pipeline."""

from __future__ import annotations

SERVICE = "stream_pipeline"  # package name, metrics label and log field
WORKER_SERVICE = "stream_pipeline.worker"  # log field of worker processes

PIPELINES_COLLECTION = "stream_pipelines"  # pipeline definitions and their desired state
WORKER_STATUS_COLLECTION = "stream_worker_status"  # one heartbeat document per (pipeline, worker)
REPLAYS_COLLECTION = "stream_dead_letter_replays"  # how far each dead-letter partition was replayed

DEAD_LETTER_TOPIC_TEMPLATE = "dataflow.stream.{pipeline_id}.dlq"  # default dead-letter topic of a pipeline
REPLAY_TOPIC_TEMPLATE = "dataflow.stream.{pipeline_id}.replay"  # where replayed dead letters re-enter the pipeline

REPLAY_HEADER_TOPIC = "dataflow.origin.topic"  # header of a replayed message: its original topic
REPLAY_HEADER_PARTITION = "dataflow.origin.partition"  # ... its original partition
REPLAY_HEADER_OFFSET = "dataflow.origin.offset"  # ... its original offset

STATUS_FRESH_S = 15.0  # a worker heartbeat older than this no longer counts in the status
DEFAULT_MAX_BATCH = 1000  # records polled and processed together
DEFAULT_MAX_WAIT_MS = 100  # longest poll wait for a batch

"""stream_pipeline: Kafka consume, transform and sink pipelines with dead letters and scale-out."""

__version__ = "0.1.0"

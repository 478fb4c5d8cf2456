"""Collection names, topic prefixes and defaults of ecron."""

from __future__ import annotations

SERVICE = "ecron"  # package name, metrics label and log field

JOBS_COLLECTION = "ecron_jobs"  # cron jobs with their schedules and actions
EXECUTIONS_COLLECTION = "ecron_executions"  # one insert-only claim per slot or manual run; _id is the slot id
OUTCOMES_COLLECTION = "ecron_outcomes"  # one insert-only outcome per finished execution, same _id as its claim
NODES_COLLECTION = "ecron_nodes"  # live nodes: heartbeat, lease and the executions each one holds
TAKEOVERS_COLLECTION = "ecron_takeovers"  # one marker per dead node taken over: its insert is the decision
CHANGES_COLLECTION = "ecron_job_changes"  # a short feed of job changes that every node follows
STATE_COLLECTION = "ecron_state"  # cluster-wide markers, such as how far the schedule has been processed

PROGRESS_ID = "progress"  # _id of the state document holding the processed-until time
MAINTENANCE_KEY = "maintenance"  # the node rendezvous hashing picks for this key prunes for the cluster


CHANGES_KEEP_S = 600.0  # the feed never keeps more than this; a node further behind compares its whole plan
CHANGES_OVERLAP_S = 4.0  # the feed is re-read this far back, so late inserts from other nodes are seen
MAX_MISSED_RECORDS = 1000  # at most this many missed slots are recorded one by one per job and catch-up
RESPONSE_SUMMARY_CHARS = 2000  # how much of an HTTP response body an execution keeps

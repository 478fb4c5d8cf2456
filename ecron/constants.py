"""Collection names and defaults of ecron."""

from __future__ import annotations

SERVICE = "ecron"  # package name, metrics label and log field

JOBS_COLLECTION = "ecron_jobs"  # cron jobs with their schedules and actions

"""ecron: distributed cron that fires each schedule slot exactly once across nodes."""

__version__ = "0.1.0"

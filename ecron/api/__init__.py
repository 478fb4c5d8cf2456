"""ecron's HTTP handlers."""

"""stream_pipeline's HTTP handlers."""

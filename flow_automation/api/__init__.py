"""flow_automation's HTTP handlers: thin, they parse, authorize, call the domain and render."""

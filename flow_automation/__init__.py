"""flow_automation: the Dataflow orchestrator and the embedded OAuth2 authorization server."""

__version__ = "0.1.0"

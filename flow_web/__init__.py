"""flow_web: the visual pipeline designer and monitoring UI."""

__version__ = "0.1.0"

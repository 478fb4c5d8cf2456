"""One reader per document format, each ``read_<format>(filename, content) -> dict``."""

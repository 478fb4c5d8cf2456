"""One writer per report format, each ``write_<format>(report: ReportSpec) -> bytes``."""

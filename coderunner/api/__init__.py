"""coderunner's HTTP handlers."""

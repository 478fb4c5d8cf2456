"""coderunner: sandboxed Python execution, document tools, OCR and package management."""

__version__ = "0.1.0"

"""Newsletter-as-code: Markdown issues rendered once and sent to subscriber lists."""

__version__ = "0.1.0"

"""Declarative release builds for large language models across many AI chips."""

__version__ = "0.1.0"

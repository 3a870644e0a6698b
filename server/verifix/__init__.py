"""verifix: local, verified code generation."""

__version__ = "0.1.0"

"""The package version (a module of its own, so inner layers can name it without importing the
public API in ``needleplan/__init__``)."""

__version__ = "0.1.0"

"""The package version, on its own so reading it imports nothing else (``simtrial --version``)."""

__version__ = "0.1.0"

"""culturebench: measure and steer the cultural alignment of language models."""

__version__ = "0.1.0"

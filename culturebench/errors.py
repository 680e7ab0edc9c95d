"""Exceptions shared across culturebench."""


class CultureBenchError(Exception):
    """Base class for errors caused by invalid input or configuration (shown without a traceback)."""


class ValidationError(CultureBenchError):
    """Raised when benchmark data breaks the item schema; the message names file, row and field."""

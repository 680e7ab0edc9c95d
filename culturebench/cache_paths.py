"""The one base folder of every culturebench cache: model copies, judge and builder replies, corpora.

`CULTUREBENCH_CACHE` sets it. Each cache keeps to its own sub-folder (`models/`, `judges/`,
`builder/`, `preferences/`, `corpus/`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_ENV = "CULTUREBENCH_CACHE"
# Older releases read this name for the judge and builder reply caches only.
DEPRECATED_CACHE_ENV = "CULTUREBENCH_CACHE_DIR"

_deprecation_logged = False


def cache_dir() -> Path:
    """Return the base cache folder: $CULTUREBENCH_CACHE, else the platform's user cache folder.

    `CULTUREBENCH_CACHE_DIR` is still read, with a warning logged once per process, when
    `CULTUREBENCH_CACHE` is unset.
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    deprecated = os.environ.get(DEPRECATED_CACHE_ENV)
    if deprecated:
        _log_deprecation(deprecated)
        return Path(deprecated).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("culturebench"))


def _log_deprecation(value: str) -> None:
    global _deprecation_logged
    if _deprecation_logged:
        return
    _deprecation_logged = True
    logger.warning(
        "%s is deprecated and will be removed; using it (%s) as the cache folder. Set %s=%s instead",
        DEPRECATED_CACHE_ENV, value, CACHE_ENV, value,
    )

"""An append-only on-disk cache of judge replies, safe to kill at any point and resume."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from culturebench.cache_paths import cache_dir
from culturebench.judges.backend import ChatReply, ChatRequest
from culturebench.judges.rubrics import Rubric
from culturebench.judges.spec import JudgeSpec

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Return the `judges` sub-folder of culturebench's cache folder (see `culturebench.cache_paths`)."""
    return cache_dir() / "judges"


def prompt_hash(request: ChatRequest) -> str:
    """Return the SHA-256 of everything in the request that shapes the reply."""
    digest = hashlib.sha256()
    for part in request.fingerprint_parts():
        encoded = part.encode("utf-8")
        # A length prefix keeps ("ab", "c") and ("a", "bc") apart.
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


def cache_key(spec: JudgeSpec, rubric: Rubric, request: ChatRequest) -> str:
    """Return the key of one call: judge spec (backend, model, URL), rubric version and prompt hash."""
    parts = (spec.text, rubric.name, rubric.version, prompt_hash(request))
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies of one judge, one JSON line per paid call, in `<dir>/<judge>.jsonl`.

    Each line is written with a single `write` on a file opened with O_APPEND, so concurrent
    writers and a kill between calls leave whole lines. A torn last line (power loss) is skipped
    on load. Lines contain the judge, rubric, hashes and reply, never an API key or the prompt.
    """

    def __init__(self, directory: Path, spec: JudgeSpec) -> None:
        self.path = Path(directory) / f"{_file_stem(spec)}.jsonl"
        self.entries: dict[str, ChatReply] = {}
        self.skipped_lines = 0
        self._descriptor: int | None = None
        self._load()

    def get(self, key: str) -> ChatReply | None:
        return self.entries.get(key)

    def put(self, key: str, spec: JudgeSpec, rubric: Rubric, request: ChatRequest, reply: ChatReply) -> None:
        """Record one reply on disk before returning, so a kill right after loses nothing."""
        record = {
            "key": key,
            "judge": spec.text,
            "rubric": rubric.name,
            "rubric_version": rubric.version,
            "prompt_hash": prompt_hash(request),
            "time": time.time(),
            "reply": reply.to_dict(),
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        if self._descriptor is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._descriptor, line)
        self.entries[key] = reply

    def close(self) -> None:
        if self._descriptor is not None:
            os.fsync(self._descriptor)
            os.close(self._descriptor)
            self._descriptor = None

    def _load(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            data = handle.read()
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
                self.entries[record["key"]] = ChatReply.from_dict(record["reply"])
            except (ValueError, KeyError, TypeError) as error:
                self.skipped_lines += 1
                logger.warning("skipping unreadable line %d of judge cache %s: %s", number, self.path, error)
        if data and not data.endswith(b"\n"):
            # A torn last line must not swallow the next record appended after it.
            with self.path.open("ab") as handle:
                handle.write(b"\n")
        logger.info("judge cache %s: %d cached replies", self.path, len(self.entries))


def _file_stem(spec: JudgeSpec) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.text)[:80]
    digest = hashlib.sha256(spec.text.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"

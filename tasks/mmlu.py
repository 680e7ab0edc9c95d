"""Documents and prompt of the `mmlu_local_*` tasks, read from local MMLU CSV files.

The files follow the original MMLU release (hendrycks/test): `<root>/test/<subject>_test.csv`
and `<root>/dev/<subject>_dev.csv` (the five few-shot examples), no header, columns question,
A, B, C, D and the answer letter. `<root>` may also be the folder that contains `data/`.
culturebench ships no MMLU data; the root is, in order of precedence:

1. `--metadata '{"culturebench_mmlu": "PATH"}'`;
2. the CULTUREBENCH_MMLU environment variable.

lm-eval's own `mmlu` task remains the way to read MMLU from the Hugging Face hub.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import datasets

from culturebench.errors import CultureBenchError

logger = logging.getLogger(__name__)

MMLU_KEY = "culturebench_mmlu"
MMLU_ENV = "CULTUREBENCH_MMLU"
COLUMNS = ("question", "A", "B", "C", "D", "answer")
LETTERS = ("A", "B", "C", "D")
SPLIT_FILES = {"test": "test", "dev": "dev"}


def mmlu_root(metadata: dict[str, Any]) -> Path:
    """Return the configured MMLU folder (the one holding `test/` and `dev/`).

    Raises:
        CultureBenchError: when no folder is configured or it lacks `test/`.
    """
    configured = metadata.get(MMLU_KEY) or os.environ.get(MMLU_ENV)
    if not configured:
        raise CultureBenchError(
            f"mmlu_local tasks need the MMLU CSV folder: pass --metadata '{{\"{MMLU_KEY}\": \"PATH\"}}' "
            f"or set {MMLU_ENV}=PATH (PATH holds test/ and dev/ as in the original MMLU release)"
        )
    root = Path(str(configured)).expanduser()
    for candidate in (root, root / "data"):
        if (candidate / "test").is_dir():
            return candidate
    raise CultureBenchError(f"MMLU folder {root} has no test/ subfolder; point {MMLU_KEY} or {MMLU_ENV} at it")


def read_subject(root: Path, subject: str, split: str) -> list[dict[str, Any]]:
    """Read one subject's split into documents `{question, choices, answer, subject}`."""
    import pandas as pd

    path = root / split / f"{subject}_{SPLIT_FILES[split]}.csv"
    if not path.is_file():
        raise CultureBenchError(f"MMLU file {path} not found; is {root} a complete MMLU folder?")
    frame = pd.read_csv(path, header=None, names=list(COLUMNS), dtype=str, keep_default_na=False)
    docs = []
    for number, row in enumerate(frame.itertuples(index=False), start=1):
        letter = row.answer.strip().upper()
        if letter not in LETTERS:
            raise CultureBenchError(f"{path}:{number}: answer {row.answer!r} is not one of A, B, C, D")
        docs.append({
            "question": row.question,
            "choices": [row.A, row.B, row.C, row.D],
            "answer": LETTERS.index(letter),
            "subject": subject,
        })
    if not docs:
        raise CultureBenchError(f"MMLU file {path} has no rows")
    return docs


def load_mmlu(subject: str, **metadata: Any) -> datasets.DatasetDict:
    """Return `{"test", "dev"}` documents of one subject (lm-eval's `custom_dataset`)."""
    root = mmlu_root(metadata)
    splits = {split: datasets.Dataset.from_list(read_subject(root, subject, split)) for split in SPLIT_FILES}
    logger.info("MMLU %s: %d test and %d dev questions from %s", subject, len(splits["test"]), len(splits["dev"]), root)
    return datasets.DatasetDict(splits)


def mmlu_text(doc: dict[str, Any]) -> str:
    """Build the prompt: the question, the four lettered choices and `Answer:`."""
    choices = "\n".join(f"{letter}. {choice}" for letter, choice in zip(LETTERS, doc["choices"]))
    return f"{doc['question'].strip()}\n{choices}\nAnswer:"

"""Documents, prompts and scoring of the `behaviour_*` tasks (A/B behaviour sets in BiPO's layout).

A set named NAME is a CSV file with the columns `question, A, B, matching`, where `matching` is
the letter of the answer that shows the behaviour (BiPO's `test_infer.csv`). culturebench ships
no behaviour data; the folder holding the sets is, in order of precedence:

1. `--metadata '{"culturebench_behaviours": "DIR"}'`;
2. the CULTUREBENCH_BEHAVIOURS environment variable.

The set is `DIR/NAME/test_infer.csv` or `DIR/NAME.csv`; a NAME spelled with `_` also finds the
folder spelled with `-` (`power_seeking` reads `power-seeking/`).

Two forms are scored:

- cloze (`behaviour_NAME`): the prompt is the question followed by `Answer:` and each answer is a
  continuation after one space. That is the prompt and response form that `culturebench train`
  builds from BiPO's training pairs (`question, matching, not_matching`) for a model without a
  chat template, so a vector is evaluated on the form it was trained on.
- A/B (`behaviour_NAME_ab`): both answers are listed as options A and B, and the letters are scored.

Per question, `p_matching` is the probability of the matching answer when the model must pick
one of the two, `σ(ll_matching − ll_other)` of the summed log-likelihoods, and `acc` is 1 when
the matching answer is the more likely one.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datasets

from culturebench.errors import CultureBenchError
from culturebench.prompts import CLOZE_ANSWER_CUE

logger = logging.getLogger(__name__)

BEHAVIOURS_KEY = "culturebench_behaviours"
BEHAVIOURS_ENV = "CULTUREBENCH_BEHAVIOURS"
COLUMNS = ("question", "A", "B", "matching")
LETTERS = ("A", "B")


def behaviour_file(name: str, metadata: dict[str, Any]) -> Path:
    """Return the CSV file of behaviour set `name` under the configured folder.

    Raises:
        CultureBenchError: when no folder is configured or the set is not in it.
    """
    configured = metadata.get(BEHAVIOURS_KEY) or os.environ.get(BEHAVIOURS_ENV)
    if not configured:
        raise CultureBenchError(
            f"behaviour tasks need the folder of behaviour sets: pass --metadata "
            f"'{{\"{BEHAVIOURS_KEY}\": \"DIR\"}}' or set {BEHAVIOURS_ENV}=DIR (DIR/{name}/test_infer.csv)"
        )
    root = Path(str(configured)).expanduser()
    candidates = []
    for spelling in dict.fromkeys((name, name.replace("_", "-"))):
        candidates += [root / spelling / "test_infer.csv", root / f"{spelling}.csv"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise CultureBenchError(
        f"behaviour set {name!r} not found; looked for {', '.join(str(path) for path in candidates)}"
    )


def read_behaviour(path: Path) -> list[dict[str, Any]]:
    """Read an A/B file into documents `{question, choices, answer}`, `answer` being the matching index."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise CultureBenchError(
            f"behaviour file {path} lacks column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
        )
    docs = []
    for number, row in enumerate(frame.to_dict(orient="records"), start=2):  # row 1 is the header
        letter = row["matching"].strip().strip("()").upper()
        if letter not in LETTERS:
            raise CultureBenchError(f"{path}:{number}: matching {row['matching']!r} is not A or B")
        if not all(row[column].strip() for column in ("question", "A", "B")):
            raise CultureBenchError(f"{path}:{number}: question, A and B must not be empty")
        docs.append({
            "question": row["question"].strip(),
            "choices": [row["A"].strip(), row["B"].strip()],
            "answer": LETTERS.index(letter),
        })
    if not docs:
        raise CultureBenchError(f"behaviour file {path} has no rows")
    return docs


def load_behaviour(behaviour: str, **metadata: Any) -> datasets.DatasetDict:
    """Return `{"test": documents}` of one behaviour set (lm-eval's `custom_dataset`)."""
    path = behaviour_file(behaviour, metadata)
    docs = read_behaviour(path)
    logger.info("behaviour %s: %d questions from %s", behaviour, len(docs), path)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def behaviour_text(doc: dict[str, Any]) -> str:
    """Build the cloze prompt: the question and `Answer:`."""
    return f"{doc['question']}\n{CLOZE_ANSWER_CUE}"


def behaviour_choices(doc: dict[str, Any]) -> list[str]:
    """Return the two answers, continuations of the cloze prompt."""
    return list(doc["choices"])


def behaviour_ab_text(doc: dict[str, Any]) -> str:
    """Build the A/B prompt: the question, both answers as options A and B, and `Answer:`."""
    first, second = doc["choices"]
    return f"{doc['question']}\nA. {first}\nB. {second}\n{CLOZE_ANSWER_CUE}"


def process_behaviour(doc: dict[str, Any], results: Sequence[tuple[float, bool]]) -> dict[str, float]:
    """Score one question: `p_matching = σ(ll_matching − ll_other)` and `acc` (matching more likely)."""
    loglikelihoods = [float(result[0]) for result in results]
    if len(loglikelihoods) != 2:
        raise CultureBenchError(f"a behaviour question has 2 answers, got {len(loglikelihoods)} scores")
    matching = int(doc["answer"])
    margin = loglikelihoods[matching] - loglikelihoods[1 - matching]
    return {"p_matching": _sigmoid(margin), "acc": float(margin > 0)}


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exponential = math.exp(value)
    return exponential / (1.0 + exponential)

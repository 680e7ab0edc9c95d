"""Stage 5: remove near-duplicate options within each MCQ and near-duplicate questions across MCQs.

Texts are compared with rapidfuzz's `fuzz.ratio` (normalised Indel similarity, 0-100) after
case folding and reducing them to their words. Two texts count as duplicates when the score
reaches the threshold and they contain the same numbers, because "102 पर फोन करना" and
"108 पर फ़ोन करना" differ only in a digit but are different answers. Defaults: options 92,
questions 90. On the bundled benchmark, the highest option pair inside one question scores
90.2 with equal numbers ("«Tia», mesmo sem ser parente" vs "«Mamã», ..."), and the highest pair
of questions across seeds scores 81.4, so neither default removes any hand-written item there.

Questions are the seed scenarios, shared by all languages, so a duplicate seed is removed from
every language. Within an MCQ the Western control is always kept. Of two similar country
options the later one in the language group's order goes, together with that country's items.
With an embedding model, the same rules then run again on cosine similarity of embeddings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from culturebench.builder.records import Mcq, to_record
from culturebench.builder.stages import Drop, StageOutput
from culturebench.items import WESTERN

logger = logging.getLogger(__name__)

# Returns the similarity of each query (rows) to each text (columns).
SimilarityFunction = Callable[[Sequence[str], Sequence[str]], np.ndarray]
# Rows of the similarity matrix computed at once, so memory stays at CHUNK_ROWS x n scores.
CHUNK_ROWS = 512


@dataclass(frozen=True)
class DedupSettings:
    """Settings of the near-duplicate stage.

    Args:
        option_similarity: rapidfuzz score (0-100) from which two options of one MCQ are duplicates.
        question_similarity: rapidfuzz score (0-100) from which two seed questions are duplicates.
        min_countries: minimum number of countries an MCQ needs after removals.
        embedding_model: a local model folder for the embedding pass, or None to skip it.
        embedding_similarity: cosine similarity from which two texts are duplicates in that pass.
    """

    option_similarity: float = 92.0
    question_similarity: float = 90.0
    min_countries: int = 2
    embedding_model: Path | None = None
    embedding_similarity: float = 0.92


def normalize(text: str) -> str:
    """Return `text` case-folded and reduced to its words, separated by single spaces."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def numbers_in(text: str) -> list[int]:
    """Return the numbers in `text`; `int` reads digits of every script, so "٣" equals "3"."""
    return [int(digits) for digits in re.findall(r"\d+", text)]


def fuzzy_similarity(queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """Return the rapidfuzz `fuzz.ratio` scores (0-100) of the normalised queries against the texts."""
    return cdist([normalize(text) for text in queries], [normalize(text) for text in texts], scorer=fuzz.ratio, workers=1)


def remove_duplicates(mcqs: list[Mcq], settings: DedupSettings, embed: SimilarityFunction | None = None) -> StageOutput:
    """Return the MCQs without near-duplicate questions and options, with one drop per removal."""
    drops: list[Drop] = []
    passes: list[tuple[str, SimilarityFunction, float, float]] = [
        ("", fuzzy_similarity, settings.question_similarity, settings.option_similarity)
    ]
    if embed is not None:
        passes.append(("_embedding", embed, settings.embedding_similarity, settings.embedding_similarity))

    for suffix, similarity, question_threshold, option_threshold in passes:
        mcqs = _remove_similar_questions(mcqs, similarity, question_threshold, f"near_duplicate_question{suffix}", drops)
        for mcq in mcqs:
            _remove_similar_options(mcq, similarity, option_threshold, f"near_duplicate_option{suffix}", drops)

    kept = []
    for mcq in mcqs:
        if len(mcq.countries) < settings.min_countries:
            left = ", ".join(mcq.countries) or "none"
            detail = f"countries left after removing duplicates: {left}; at least {settings.min_countries} needed"
            drops.append(Drop(mcq.key, "too_few_countries", detail))
        else:
            kept.append(mcq)
    return StageOutput([to_record(mcq) for mcq in kept], drops)


def _remove_similar_questions(mcqs: list[Mcq], similarity: SimilarityFunction, threshold: float, reason: str,
                              drops: list[Drop]) -> list[Mcq]:
    text_of = {mcq.seed: mcq.scenario for mcq in mcqs}
    seeds = list(text_of)
    duplicates = _greedy_duplicates([text_of[seed] for seed in seeds], similarity, threshold)
    removed = set()
    for later, earlier, score in duplicates:
        removed.add(seeds[later])
        drops.append(Drop(seeds[later], reason, f"similar to seed {seeds[earlier]!r} (score {score:.1f})"))
    return [mcq for mcq in mcqs if mcq.seed not in removed]


def _remove_similar_options(mcq: Mcq, similarity: SimilarityFunction, threshold: float, reason: str,
                            drops: list[Drop]) -> None:
    # The control goes first so that it always wins; the countries follow in group order.
    keys = [WESTERN, *mcq.countries]
    texts = [mcq.option_of(key) for key in keys]
    for later, earlier, score in _greedy_duplicates(texts, similarity, threshold):
        detail = f"its option {texts[later]!r} is similar to the {keys[earlier]} option {texts[earlier]!r} (score {score:.1f})"
        drops.append(Drop(f"{mcq.key}/{keys[later]}", reason, detail))
        mcq.remove(keys[later])


def _greedy_duplicates(texts: Sequence[str], similarity: SimilarityFunction, threshold: float) -> list[tuple[int, int, float]]:
    """Return `(later, earlier, score)` for each text similar to an earlier text that is itself kept."""
    if len(texts) < 2:
        return []
    numbers = [numbers_in(text) for text in texts]
    kept: list[int] = []
    duplicates: list[tuple[int, int, float]] = []
    for start in range(0, len(texts), CHUNK_ROWS):
        scores = np.asarray(similarity(texts[start : start + CHUNK_ROWS], texts), dtype=float)
        for row, index in enumerate(range(start, min(start + CHUNK_ROWS, len(texts)))):
            match = _best_match(scores[row], kept, numbers, index, threshold)
            if match is None:
                kept.append(index)
            else:
                duplicates.append((index, *match))
    return duplicates


def _best_match(scores: np.ndarray, kept: list[int], numbers: list[list[int]], index: int,
                threshold: float) -> tuple[int, float] | None:
    """Return the most similar kept text at or above the threshold with the same numbers, or None."""
    if not kept:
        return None
    candidates = scores[kept]
    for position in np.argsort(-candidates, kind="stable"):
        if candidates[position] < threshold:
            return None
        earlier = kept[position]
        if numbers[earlier] == numbers[index]:
            return earlier, float(candidates[position])
    return None

"""Stage 7, first half: assign splits by seed question and assemble the seed-file entries.

A seed question goes to the test split when the first 64 bits of
SHA-256("<split_seed>:<seed id>") fall below `test_fraction` of their range, unless the seeds
file pins its split. The rule depends only on the seed's own id, so adding seeds to the file
never moves an existing question to the other split, and every language of a seed shares its
split. The test share is therefore `test_fraction` on average, not exactly.
"""

from __future__ import annotations

import hashlib
from typing import Any

from culturebench.builder.records import Mcq, Variants
from culturebench.builder.seeds import SeedPlan, SeedQuestion
from culturebench.builder.stages import Drop, StageOutput


def split_of(question: SeedQuestion, test_fraction: float, split_seed: int) -> str:
    """Return `train` or `test` for a seed question by the rule in the module docstring."""
    if question.split is not None:
        return question.split
    digest = hashlib.sha256(f"{split_seed}:{question.id}".encode("utf-8")).hexdigest()
    return "test" if int(digest[:16], 16) < test_fraction * 16**16 else "train"


def assemble_entries(plan: SeedPlan, mcqs: list[Mcq], variants: list[Variants], test_fraction: float,
                     split_seed: int) -> StageOutput:
    """Return one record per (MCQ, language) in the seed-file format, with at least one country's questions."""
    questions = {question.id: question for question in plan.questions}
    by_slot = {(record.seed, record.language, record.country): record for record in variants}
    records: list[dict[str, Any]] = []
    drops: list[Drop] = []
    for mcq in mcqs:
        countries = [country for country in mcq.countries if (mcq.seed, mcq.language, country) in by_slot]
        if not countries:
            drops.append(Drop(mcq.key, "no_items", "the questions of every country were dropped in the variants stage"))
            continue
        entry = {
            "id": f"{plan.languages[mcq.language].code}-{mcq.seed}",
            "topic": mcq.topic,
            "subtopic": mcq.subtopic,
            "split": split_of(questions[mcq.seed], test_fraction, split_seed),
            "countries": countries,
            "options": mcq.options,
            "questions": {country: _forms(by_slot[(mcq.seed, mcq.language, country)], mcq.gold[country]) for country in countries},
        }
        records.append({"language": mcq.language, "entry": entry})
    return StageOutput(records, drops)


def _forms(variants: Variants, gold: str) -> dict[str, Any]:
    forms: dict[str, Any] = {"localized": variants.localized, "nonlocalized": variants.nonlocalized, "answer": gold}
    if variants.localized_paraphrases:
        forms["localized_paraphrases"] = variants.localized_paraphrases
    if variants.nonlocalized_paraphrases:
        forms["nonlocalized_paraphrases"] = variants.nonlocalized_paraphrases
    return forms

"""The table the `mmlu_local_*` and `behaviour_*` task files are generated from.

- `mmlu_local_<subject>`: one task per MMLU subject, read from local CSV files in the layout of
  the original MMLU release (hendrycks/test), 5-shot log-likelihood over the letters A to D.
  Groups: one per category (`mmlu_local_stem`, `mmlu_local_humanities`,
  `mmlu_local_social_sciences`, `mmlu_local_other`) and `mmlu_local` over all four. The
  subject-to-category mapping is the one lm-eval 0.4.13's own `mmlu` task groups use.
- `behaviour_<name>`: one A/B behaviour set in BiPO's layout (`question, A, B, matching`), whose
  two answers are scored as cloze continuations of the question. `behaviour_<name>_ab` lists both
  answers as options A and B and scores the letters. Group `behaviour` runs the cloze form of every set
  in `BEHAVIOURS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Bump when prompts, scoring or few-shot settings change, so old and new results never mix.
MMLU_VERSION = 1.0
BEHAVIOUR_VERSION = 1.0
MMLU_SHOTS = 5

MMLU_CATEGORIES: dict[str, tuple[str, ...]] = {
    "stem": (
        "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
        "college_computer_science", "college_mathematics", "college_physics", "computer_security",
        "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
        "high_school_chemistry", "high_school_computer_science", "high_school_mathematics",
        "high_school_physics", "high_school_statistics", "machine_learning",
    ),
    "humanities": (
        "formal_logic", "high_school_european_history", "high_school_us_history", "high_school_world_history",
        "international_law", "jurisprudence", "logical_fallacies", "moral_disputes", "moral_scenarios",
        "philosophy", "prehistory", "professional_law", "world_religions",
    ),
    "social_sciences": (
        "econometrics", "high_school_geography", "high_school_government_and_politics",
        "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
        "human_sexuality", "professional_psychology", "public_relations", "security_studies", "sociology",
        "us_foreign_policy",
    ),
    "other": (
        "business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging",
        "management", "marketing", "medical_genetics", "miscellaneous", "nutrition",
        "professional_accounting", "professional_medicine", "virology",
    ),
}

# The behaviour sets BiPO publishes in this layout; others get task files with `--behaviour`.
BEHAVIOURS = ("hallucination", "power_seeking", "wealth_seeking")


@dataclass(frozen=True)
class MmluRow:
    """One `mmlu_local_<subject>` task file."""

    subject: str
    category: str

    @property
    def name(self) -> str:
        return f"mmlu_local_{self.subject}"

    @property
    def description(self) -> str:
        """The instruction lm-eval puts before the few-shot examples (a YAML-escaped string)."""
        return f"The following are multiple choice questions (with answers) about {self.subject.replace('_', ' ')}.\\n\\n"


@dataclass(frozen=True)
class BehaviourRow:
    """One `behaviour_<name>[_ab]` task file."""

    behaviour: str
    form: str  # `cloze` (answers as continuations) or `ab` (answers listed, letters scored)

    @property
    def name(self) -> str:
        return f"behaviour_{self.behaviour}" + ("_ab" if self.form == "ab" else "")


@dataclass(frozen=True)
class GroupRow:
    """One group file: member tasks or groups and the metrics averaged over samples."""

    name: str
    members: tuple[str, ...]
    metrics: tuple[str, ...]
    version: float


def mmlu_rows() -> Iterator[MmluRow]:
    """Yield the 57 subjects in alphabetical order."""
    rows = [MmluRow(subject, category) for category, subjects in MMLU_CATEGORIES.items() for subject in subjects]
    yield from sorted(rows, key=lambda row: row.subject)


def behaviour_rows(behaviours: tuple[str, ...] = BEHAVIOURS) -> Iterator[BehaviourRow]:
    """Yield the cloze and A/B task of each behaviour set."""
    for behaviour in behaviours:
        yield BehaviourRow(behaviour, "cloze")
        yield BehaviourRow(behaviour, "ab")


def group_rows() -> Iterator[GroupRow]:
    """Yield the MMLU category groups, `mmlu_local` and `behaviour`."""
    for category, subjects in MMLU_CATEGORIES.items():
        yield GroupRow(f"mmlu_local_{category}", tuple(f"mmlu_local_{s}" for s in sorted(subjects)), ("acc",), MMLU_VERSION)
    yield GroupRow("mmlu_local", tuple(f"mmlu_local_{category}" for category in MMLU_CATEGORIES), ("acc",), MMLU_VERSION)
    cloze = tuple(row.name for row in behaviour_rows() if row.form == "cloze")
    yield GroupRow("behaviour", cloze, ("p_matching", "acc"), BEHAVIOUR_VERSION)

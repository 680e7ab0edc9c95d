"""The table the `culture_*` task files are generated from: protocols, settings, scopes, groups.

Task names are `culture_<language>[_<country>]_<setting><suffix>`, where setting is `loc`,
`nonloc` or `both` and the suffix names the protocol: none for `\\boxed{k}` MCQ generation,
`_ll` for log-likelihood MCQ and `_oe` for open-ended generation. Group `culture_<language>`
contains the per-country `both` MCQ tasks of one language, and `culture_all` contains every
language group.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from culturebench.items import LANGUAGE_COUNTRIES

# Bump when prompts, scoring or generation settings change, so old and new results never mix.
TASK_VERSION = 1.0

# End-of-turn markers of common chat formats (Gemma, ChatML, Llama 3, Phi, GPT-2 style, Llama 2).
# lm-eval 0.4.13 adds the model's EOS token itself. Without `until` it would stop at the few-shot
# delimiter, a blank line, which chat models also write inside their answers.
STOP_SEQUENCES = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "</s>")
SETTINGS = ("loc", "nonloc", "both")


@dataclass(frozen=True)
class Metric:
    """One entry of a task's `metric_list`: a name, its aggregation and its direction."""

    name: str
    aggregation: str
    higher_is_better: bool
    custom: bool = False  # the aggregation is a helper function, not an lm-eval built-in


@dataclass(frozen=True)
class Protocol:
    """A task protocol: its output type, prompt and target functions, scoring and metrics."""

    suffix: str
    output_type: str
    doc_to_text: str
    doc_to_target: str
    process_results: str
    metrics: tuple[Metric, ...]
    doc_to_choice: str | None = None
    max_gen_toks: int | None = None
    variant_metrics: bool = True


VARIANT_METRICS = (
    Metric("acc_loc", "aggregate_acc_loc", True, custom=True),
    Metric("acc_nonloc", "aggregate_acc_nonloc", True, custom=True),
    Metric("rca", "aggregate_rca", True, custom=True),
    Metric("pnlg", "aggregate_pnlg", False, custom=True),
)

PROTOCOLS: dict[str, Protocol] = {
    "mcq": Protocol(
        suffix="",
        output_type="generate_until",
        doc_to_text="mcq_text",
        doc_to_target="mcq_target",
        process_results="process_mcq",
        metrics=(Metric("acc", "mean", True), Metric("extraction_failed", "mean", False)),
        max_gen_toks=256,
    ),
    "ll": Protocol(
        suffix="_ll",
        output_type="multiple_choice",
        doc_to_text="cloze_text",
        doc_to_target="answer_index",
        doc_to_choice="cloze_choices",
        process_results="process_loglikelihood",
        metrics=(Metric("acc", "mean", True), Metric("acc_norm", "mean", True)),
    ),
    "oe": Protocol(
        suffix="_oe",
        output_type="generate_until",
        doc_to_text="open_text",
        doc_to_target="open_target",
        process_results="process_open",
        metrics=(Metric("nonempty", "mean", True),),
        max_gen_toks=512,
        variant_metrics=False,
    ),
}


@dataclass(frozen=True)
class TaskRow:
    """One generated task file."""

    name: str
    language: str
    country: str | None
    setting: str
    protocol: Protocol

    @property
    def has_variant_metrics(self) -> bool:
        return self.setting == "both" and self.protocol.variant_metrics

    @property
    def metrics(self) -> tuple[Metric, ...]:
        if self.has_variant_metrics:
            return self.protocol.metrics + VARIANT_METRICS
        return self.protocol.metrics

    @property
    def process_results(self) -> str:
        """The scoring function; `both` tasks use its `_both` form, which adds the variant record."""
        if self.has_variant_metrics:
            return f"{self.protocol.process_results}_both"
        return self.protocol.process_results


@dataclass(frozen=True)
class GroupRow:
    """One generated group file: its member tasks or groups and the metrics it aggregates."""

    name: str
    members: tuple[str, ...]
    # (metric, weight_by_size): accuracies are pooled over samples, RCA and PNLG averaged.
    aggregate: tuple[tuple[str, bool], ...] = (
        ("acc", True),
        ("extraction_failed", True),
        ("rca", False),
        ("pnlg", False),
    )


def task_name(language: str, country: str | None, setting: str, protocol: Protocol) -> str:
    """Return a task's name, e.g. `culture_arabic_egypt_both_ll`."""
    scope = f"{language}_{country}" if country else language
    return f"culture_{scope}_{setting}{protocol.suffix}"


def task_rows() -> Iterator[TaskRow]:
    """Yield every task: each language and each of its countries, setting and protocol."""
    for language, countries in LANGUAGE_COUNTRIES.items():
        for country in (None, *countries):
            for setting in SETTINGS:
                for protocol in PROTOCOLS.values():
                    yield TaskRow(task_name(language, country, setting, protocol), language, country, setting, protocol)


def group_rows() -> Iterator[GroupRow]:
    """Yield the per-language groups and `culture_all`."""
    mcq = PROTOCOLS["mcq"]
    for language, countries in LANGUAGE_COUNTRIES.items():
        yield GroupRow(
            f"culture_{language}",
            tuple(task_name(language, country, "both", mcq) for country in countries),
        )
    yield GroupRow("culture_all", tuple(f"culture_{language}" for language in LANGUAGE_COUNTRIES))

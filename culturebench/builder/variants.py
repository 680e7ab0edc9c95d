"""Stage 6: write the localized and non-localized question of every (MCQ, country), plus paraphrases.

Checks, with the giveaway words of `culturebench.builder.countries`:

- the non-localized form must not contain a giveaway of any country of the language group
  (its name, demonym or capital); otherwise the country's items are dropped;
- the localized form must contain a giveaway of its own country; otherwise the items are dropped;
- a paraphrase that breaks its form's rule, or that scores at least the question threshold
  against its form or an earlier paraphrase (rapidfuzz, as in the dedup stage), is dropped alone.
"""

from __future__ import annotations

import logging

from culturebench.builder.countries import CountryInfo, giveaways_in
from culturebench.builder.dedup import fuzzy_similarity, numbers_in
from culturebench.builder.generator import Generator, PromptRequest, usage_totals
from culturebench.builder.prompts import VARIANTS
from culturebench.builder.records import Mcq, Variants, to_record
from culturebench.builder.replies import parse_variants
from culturebench.builder.seeds import SeedPlan
from culturebench.builder.stages import Drop, StageOutput

logger = logging.getLogger(__name__)


async def write_variants(plan: SeedPlan, mcqs: list[Mcq], generator: Generator, paraphrases: int,
                         question_similarity: float) -> StageOutput:
    """Return one record per (MCQ, country) whose question forms pass the checks."""
    slots = [(mcq, country) for mcq in mcqs for country in mcq.countries]
    requests = [_request(plan, mcq, country, paraphrases) for mcq, country in slots]
    verdicts = await generator.generate(requests, "variants")

    records: list[dict] = []
    drops: list[Drop] = []
    for (mcq, country), verdict in zip(slots, verdicts):
        key = f"{mcq.key}/{country}"
        if not verdict.ok:
            drops.append(Drop(key, verdict.failure_reason or "unknown", verdict.failure_detail))
            continue
        reply = verdict.value
        group = [plan.countries[member] for member in plan.groups[mcq.language]]
        own = plan.countries[country]
        problem = _form_problem("nonlocalized", reply["nonlocalized"], own, group) or _form_problem(
            "localized", reply["localized"], own, group
        )
        if problem is not None:
            drops.append(Drop(key, *problem))
            continue
        variants = Variants(mcq.seed, mcq.language, country, reply["localized"], reply["nonlocalized"])
        for form in ("localized", "nonlocalized"):
            kept = _check_paraphrases(key, form, reply[form], reply[f"{form}_paraphrases"][:paraphrases], own, group,
                                      question_similarity, drops)
            setattr(variants, f"{form}_paraphrases", kept)
        records.append(to_record(variants))
    return StageOutput(records, drops, usage_totals(verdicts))


def _form_problem(form: str, text: str, own: CountryInfo, group: list[CountryInfo]) -> tuple[str, str] | None:
    """Return `(reason, detail)` when `text` breaks the rule of `form`, else None."""
    if form == "nonlocalized":
        leaked = giveaways_in(text, group)
        if leaked:
            return "nonlocalized_names_country", f"the non-localized question contains {leaked}: {text!r}"
        return None
    if not giveaways_in(text, [own]):
        return "localized_missing_country", f"the localized question does not name {own.name}: {text!r}"
    return None


def _check_paraphrases(key: str, form: str, original: str, paraphrases: list[str], own: CountryInfo,
                       group: list[CountryInfo], threshold: float, drops: list[Drop]) -> list[str]:
    kept: list[str] = []
    for number, paraphrase in enumerate(paraphrases, start=1):
        where = f"{key}/{form}_paraphrase_{number}"
        problem = _form_problem(form, paraphrase, own, group)
        if problem is not None:
            drops.append(Drop(where, f"paraphrase_{problem[0]}", problem[1]))
            continue
        earlier = [original, *kept]
        scores = fuzzy_similarity([paraphrase], earlier)[0]
        same = [score for text, score in zip(earlier, scores) if numbers_in(text) == numbers_in(paraphrase)]
        if same and max(same) >= threshold:
            drops.append(Drop(where, "paraphrase_duplicate", f"scores {max(same):.1f} against its form or an earlier paraphrase"))
            continue
        kept.append(paraphrase)
    return kept


def _request(plan: SeedPlan, mcq: Mcq, country: str, paraphrases: int) -> PromptRequest:
    info = plan.countries[country]
    task_input = {
        "task": "write_variants",
        "seed": mcq.seed,
        "language": mcq.language,
        "country": country,
        "country_name": info.name,
        "scenario": mcq.scenario,
        "answer": mcq.gold[country],
        "option": mcq.option_of(country),
    }
    fields = {
        "language_name": plan.languages[mcq.language].name,
        "country_name": info.name,
        "local_name": info.local_name,
        "paraphrases": paraphrases,
    }
    return PromptRequest(VARIANTS, task_input, fields, parse_variants)

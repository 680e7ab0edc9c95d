"""Stage 4: package each seed question as an MCQ per language, with comparable option lengths.

The options are one per country whose expert answered, plus the Western control. When the
longest option is more than `max_length_ratio` times the shortest, or an option names a
country, the generator edits all options of the question in one request. Options that still
name a country are removed, and questions whose lengths are still unbalanced are dropped. The
options are then shuffled with `random.Random("<shuffle_seed>:<language>:<seed id>")`, so a
rebuild with the same seed gives the same order, and the correct index of every country is
recorded.
"""

from __future__ import annotations

import logging
import math
import random
import statistics
from dataclasses import dataclass

from culturebench.builder.countries import CountryInfo, giveaways_in
from culturebench.builder.generator import Generator, PromptRequest, usage_totals
from culturebench.builder.prompts import OPTIONS
from culturebench.builder.records import Answer, Mcq, to_record
from culturebench.builder.replies import parse_options
from culturebench.builder.seeds import SeedPlan, SeedQuestion
from culturebench.builder.stages import Drop, StageOutput
from culturebench.items import WESTERN

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagingSettings:
    """Settings of the MCQ packaging stage.

    Args:
        min_countries: minimum number of countries (besides the control) an MCQ needs to be kept.
        max_length_ratio: maximum ratio of the longest to the shortest option, in characters.
        shuffle_seed: the fixed seed of the option shuffle.
    """

    min_countries: int = 2
    max_length_ratio: float = 2.5
    shuffle_seed: int = 0


@dataclass
class _Draft:
    question: SeedQuestion
    language: str
    countries: list[str]
    texts: dict[str, str]
    gold: dict[str, str]
    edited: bool = False

    @property
    def key(self) -> str:
        return f"{self.question.id}/{self.language}"


async def package_questions(
    plan: SeedPlan, questions: list[SeedQuestion], answers: list[Answer], generator: Generator,
    settings: PackagingSettings,
) -> StageOutput:
    """Return one MCQ record per (question, language) that keeps enough countries and balanced options."""
    by_slot = {(answer.seed, answer.language, answer.respondent): answer for answer in answers}
    drops: list[Drop] = []
    drafts: list[_Draft] = []
    for question in questions:
        for language, group in plan.groups.items():
            draft = _draft(question, language, group, by_slot, settings, drops)
            if draft is not None:
                drafts.append(draft)

    needs_edit = [draft for draft in drafts if _needs_edit(draft, plan, settings)]
    verdicts = await generator.generate([_edit_request(draft, plan, settings) for draft in needs_edit], "options")
    for draft, verdict in zip(needs_edit, verdicts):
        if verdict.ok:
            draft.texts = verdict.value
            draft.edited = True
        else:
            logger.warning("editing the options of %s failed (%s: %s); checking the original options",
                           draft.key, verdict.failure_reason, verdict.failure_detail)

    records = []
    for draft in drafts:
        mcq = _finish(draft, plan, settings, drops)
        if mcq is not None:
            records.append(to_record(mcq))
    return StageOutput(records, drops, usage_totals(verdicts))


def _draft(question: SeedQuestion, language: str, group: tuple[str, ...], by_slot: dict, settings: PackagingSettings,
           drops: list[Drop]) -> _Draft | None:
    key = f"{question.id}/{language}"
    control = by_slot.get((question.id, language, WESTERN))
    if control is None:
        drops.append(Drop(key, "no_control_option", "the Western control request failed in the experts stage"))
        return None
    countries = [country for country in group if (question.id, language, country) in by_slot]
    if len(countries) < settings.min_countries:
        drops.append(Drop(key, "too_few_countries", _few_countries_detail(countries, settings)))
        return None
    texts = {country: by_slot[(question.id, language, country)].option for country in countries}
    texts[WESTERN] = control.option
    gold = {country: by_slot[(question.id, language, country)].answer for country in countries}
    return _Draft(question, language, countries, texts, gold)


def _needs_edit(draft: _Draft, plan: SeedPlan, settings: PackagingSettings) -> bool:
    lengths = [len(text) for text in draft.texts.values()]
    group = _group_infos(plan, draft.language)
    named = any(giveaways_in(text, group) for text in draft.texts.values())
    return named or max(lengths) > settings.max_length_ratio * min(lengths)


def _edit_request(draft: _Draft, plan: SeedPlan, settings: PackagingSettings) -> PromptRequest:
    median = statistics.median(len(text) for text in draft.texts.values())
    spread = math.sqrt(settings.max_length_ratio)
    group = _group_infos(plan, draft.language)
    names = list(dict.fromkeys(name for country in group for name in (country.name, country.local_name)))
    keys = list(draft.texts)
    task_input = {
        "task": "edit_options",
        "seed": draft.question.id,
        "language": draft.language,
        "scenario": draft.question.scenario,
        "options": draft.texts,
    }
    fields = {
        "language_name": plan.languages[draft.language].name,
        "min_chars": max(1, math.ceil(median / spread)),
        "max_chars": max(2, math.floor(median * spread)),
        "giveaways": ", ".join(names),
    }
    return PromptRequest(OPTIONS, task_input, fields, lambda text: parse_options(text, keys))


def _finish(draft: _Draft, plan: SeedPlan, settings: PackagingSettings, drops: list[Drop]) -> Mcq | None:
    group = _group_infos(plan, draft.language)
    leaked = giveaways_in(draft.texts[WESTERN], group)
    if leaked:
        drops.append(Drop(draft.key, "control_names_country", f"the Western control option contains {leaked}"))
        return None
    countries = []
    for country in draft.countries:
        leaked = giveaways_in(draft.texts[country], group)
        if leaked:
            drops.append(Drop(f"{draft.key}/{country}", "option_names_country", f"the option contains {leaked}"))
        else:
            countries.append(country)
    if len(countries) < settings.min_countries:
        drops.append(Drop(draft.key, "too_few_countries", _few_countries_detail(countries, settings)))
        return None

    keys = [*countries, WESTERN]
    lengths = {key: len(draft.texts[key]) for key in keys}
    if max(lengths.values()) > settings.max_length_ratio * min(lengths.values()):
        detail = f"option lengths {lengths} exceed the ratio {settings.max_length_ratio}"
        drops.append(Drop(draft.key, "length_unbalanced", detail + (" after editing" if draft.edited else "")))
        return None

    options = [{"country": key, "text": draft.texts[key]} for key in keys]
    random.Random(f"{settings.shuffle_seed}:{draft.language}:{draft.question.id}").shuffle(options)
    mcq = Mcq(
        seed=draft.question.id,
        language=draft.language,
        topic=draft.question.topic,
        subtopic=draft.question.subtopic,
        scenario=draft.question.scenario,
        options=options,
        countries=countries,
        gold={country: draft.gold[country] for country in countries},
        edited=draft.edited,
    )
    mcq.reindex()
    return mcq


def _group_infos(plan: SeedPlan, language: str) -> list[CountryInfo]:
    return [plan.countries[country] for country in plan.groups[language]]


def _few_countries_detail(countries: list[str], settings: PackagingSettings) -> str:
    left = ", ".join(countries) or "none"
    return f"countries left: {left}; at least {settings.min_countries} needed"

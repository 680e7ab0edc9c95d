"""Stages 2 and 3: ask each country's expert and the Western control, then drop what does not apply."""

from __future__ import annotations

import logging

from culturebench.builder.generator import Generator, PromptRequest, usage_totals
from culturebench.builder.prompts import CONTROL, EXPERT
from culturebench.builder.records import Answer, to_record
from culturebench.builder.replies import parse_control, parse_expert
from culturebench.builder.seeds import SeedPlan, SeedQuestion
from culturebench.builder.stages import Drop, StageOutput
from culturebench.items import WESTERN

logger = logging.getLogger(__name__)

# The option phrase is short so that options stay comparable in length before any editing.
OPTION_WORDS = 12


async def ask_experts(plan: SeedPlan, questions: list[SeedQuestion], generator: Generator) -> StageOutput:
    """Send one expert request per (question, language, country) and one control request per (question, language).

    Every reply that parses is kept, including "does not apply"; failed requests are dropped with
    the judge client's failure reason (`refusal`, `invalid_json`, `safety_block`, ...).
    """
    slots: list[tuple[SeedQuestion, str, str]] = []
    requests: list[PromptRequest] = []
    for question in questions:
        for language, countries in plan.groups.items():
            for respondent in (*countries, WESTERN):
                slots.append((question, language, respondent))
                requests.append(_request(plan, question, language, respondent))

    verdicts = await generator.generate(requests, "experts")
    records: list[dict] = []
    drops: list[Drop] = []
    for (question, language, respondent), verdict in zip(slots, verdicts):
        key = f"{question.id}/{language}/{respondent}"
        if not verdict.ok:
            drops.append(Drop(key, verdict.failure_reason or "unknown", verdict.failure_detail))
            continue
        reply = verdict.value if respondent != WESTERN else {"applies": True, "reason": "", **verdict.value}
        answer = Answer(question.id, language, respondent, reply["applies"], reply["reason"], reply["answer"],
                        reply["option"], verdict.repaired)
        records.append(to_record(answer))
    return StageOutput(records, drops, usage_totals(verdicts))


def filter_existing(answers: list[Answer]) -> StageOutput:
    """Drop the answers whose expert replied that the question does not apply to their country."""
    records: list[dict] = []
    drops: list[Drop] = []
    for answer in answers:
        if answer.applies:
            records.append(to_record(answer))
        else:
            drops.append(Drop(answer.key, "not_applicable", answer.reason))
    return StageOutput(records, drops)


def _request(plan: SeedPlan, question: SeedQuestion, language: str, respondent: str) -> PromptRequest:
    language_info = plan.languages[language]
    task_input = {
        "task": "western_control" if respondent == WESTERN else "country_expert",
        "seed": question.id,
        "topic": question.topic,
        "subtopic": question.subtopic,
        "language": language,
        "scenario": question.scenario,
    }
    if respondent == WESTERN:
        names = [plan.countries[country].name for country in plan.groups[language]]
        fields = {
            "language_name": language_info.name,
            "group_names": ", ".join(names),
            "control_register": language_info.control_register,
            "option_words": OPTION_WORDS,
        }
        return PromptRequest(CONTROL, task_input, fields, parse_control)

    country = plan.countries[respondent]
    task_input = {**task_input, "country": respondent, "country_name": country.name}
    fields = {"country_name": country.name, "language_name": language_info.name, "option_words": OPTION_WORDS}
    return PromptRequest(EXPERT, task_input, fields, parse_expert)

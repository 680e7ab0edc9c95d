"""MCQ packaging and question variants on their own: edits, length and naming checks, failures."""

from __future__ import annotations

import asyncio
import json

import pytest

from culturebench.builder.generator import Generator
from culturebench.builder.packaging import PackagingSettings, package_questions
from culturebench.builder.records import Answer, Mcq
from culturebench.builder.seeds import read_seeds
from culturebench.builder.variants import write_variants
from tests.builder.conftest import fast_generation, stub_spec
from tests.builder.script import task_input
from tests.judges.stub_server import StubJudgeServer, StubReply

SEEDS = """\
languages:
  english: [usa, uk, canada]
countries:
  canada: {name: Canada, demonyms: [Canadian], capitals: [Ottawa]}
topics:
  food:
    breakfast:
      - {id: still-long, scenario: "What is for breakfast?"}
      - {id: names, scenario: "What is for lunch?"}
      - {id: broken-edit, scenario: "What is for dinner?"}
      - {id: no-control, scenario: "What is for tea?"}
      - {id: lonely, scenario: "What is for supper?"}
      - {id: western-named, scenario: "What is a snack?"}
"""
OPTIONS = {
    "still-long": {"usa": "Cereal", "uk": "Toast", "canada": "Pancakes with maple syrup and bacon and coffee", "western": "Croissant"},
    "names": {"usa": "Cereal and milk", "uk": "Tea and toast", "canada": "Canadian bacon", "western": "Croissant"},
    "broken-edit": {"usa": "Cereal", "uk": "Toast", "canada": "Pancakes with maple syrup and bacon and coffee", "western": "Croissant"},
    "no-control": {"usa": "Cereal", "uk": "Toast", "canada": "Pancakes"},
    "lonely": {"usa": "Cereal", "western": "Croissant"},
    "western-named": {"usa": "Cereal", "uk": "Toast", "canada": "Pancakes", "western": "American muffins"},
}
EDITS = {
    "still-long": {"usa": "Cereal", "uk": "Toast", "canada": "Pancakes with maple syrup and bacon", "western": "Croissant"},
    "names": {"usa": "Cereal and milk", "uk": "Tea and toast", "canada": "Canadian back bacon", "western": "A croissant"},
    "western-named": {"usa": "Cereal", "uk": "Toast", "canada": "Pancakes", "western": "American muffins"},
}


def respond(system: str, turns: list[tuple[str, str]]):
    task = task_input(turns[0][1])
    if task["task"] == "edit_options":
        if task["seed"] == "broken-edit":
            return "not json"
        return json.dumps({"options": EDITS[task["seed"]]})
    assert task["task"] == "write_variants"
    if task["country"] == "uk":
        return StubReply(refusal="I won't.")
    localized = "Where I live, what is for breakfast?" if task["country"] == "canada" else "I live in the US. What now?"
    return json.dumps({"localized": localized, "nonlocalized": "What now?", "localized_paraphrases": [],
                       "nonlocalized_paraphrases": []})


def answers() -> list[Answer]:
    return [
        Answer(seed, "english", respondent, True, "", f"Answer {text}.", text)
        for seed, texts in OPTIONS.items()
        for respondent, text in texts.items()
    ]


@pytest.fixture
def plan(tmp_path):
    path = tmp_path / "seeds.yaml"
    path.write_text(SEEDS, encoding="utf-8")
    return read_seeds(path)


def run(coroutine_factory, stub_server):
    async def main():
        generator = Generator(stub_spec(stub_server, "openai"), fast_generation(None))
        try:
            return await coroutine_factory(generator)
        finally:
            await generator.aclose()

    return asyncio.run(main())


def test_packaging_checks(plan, api_keys):
    with StubJudgeServer(responder=respond) as server:
        output = run(lambda generator: package_questions(plan, plan.questions, answers(), generator, PackagingSettings()),
                     server)
        edit_requests = [task_input(entry.body["messages"][1]["content"])["seed"] for entry in server.log]

    drops = {(drop.key, drop.reason): drop.detail for drop in output.drops}
    assert "after editing" in drops[("still-long/english", "length_unbalanced")]
    assert "['Canadian']" in drops[("names/english/canada", "option_names_country")]
    assert "after editing" not in drops[("broken-edit/english", "length_unbalanced")]
    assert ("no-control/english", "no_control_option") in drops
    assert drops[("lonely/english", "too_few_countries")] == "countries left: usa; at least 2 needed"
    assert ("western-named/english", "control_names_country") in drops
    # The broken edit is sent once and repaired once; a question with too few countries is never edited.
    assert sorted(edit_requests) == ["broken-edit", "broken-edit", "names", "still-long", "western-named"]

    (kept,) = [Mcq(**record) for record in output.records]
    assert kept.seed == "names"
    assert kept.edited is True
    assert sorted(option["text"] for option in kept.options) == ["A croissant", "Cereal and milk", "Tea and toast"]
    assert kept.countries == ["usa", "uk"]
    for country, index in kept.answers.items():
        assert kept.options[index]["country"] == country


def test_variant_checks(plan, api_keys):
    texts = {"usa": "Cereal", "uk": "Toast", "canada": "Pancakes", "western": "Croissant"}
    mcq = Mcq("names", "english", "food", "breakfast", "What is for lunch?",
              [{"country": key, "text": text} for key, text in texts.items()], ["usa", "uk", "canada"],
              gold={country: f"Gold {country}" for country in ("usa", "uk", "canada")})
    mcq.reindex()
    with StubJudgeServer(responder=respond) as server:
        output = run(lambda generator: write_variants(plan, [mcq], generator, 2, 90.0), server)

    assert [record["country"] for record in output.records] == ["usa"]
    drops = {drop.key: drop for drop in output.drops}
    assert drops["names/english/uk"].reason == "refusal"
    assert drops["names/english/canada"].reason == "localized_missing_country"
    assert "does not name Canada" in drops["names/english/canada"].detail

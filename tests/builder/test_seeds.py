"""Reading builder seeds files: languages, custom countries, topics and the errors for bad files."""

from __future__ import annotations

import pytest

from culturebench.builder.seeds import read_seeds
from culturebench.errors import CultureBenchError
from tests.builder.script import SEEDS_YAML

CUSTOM_LANGUAGE = """\
languages:
  swahili:
    name: Swahili
    code: sw
    control_register: standard written Swahili
    countries: [kenya, tanzania]
countries:
  kenya: {name: Kenya, demonyms: [Kenyan], capitals: [Nairobi]}
  tanzania: {name: Tanzania, local_name: Tanzania, demonyms: [Mtanzania], capitals: [Dodoma]}
topics:
  food:
    breakfast:
      - What do I drink with breakfast on a cold morning?
      - id: sw-breakfast-2
        scenario: "What   do I eat\\n before school?"
"""


def write(tmp_path, text: str):
    path = tmp_path / "seeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_script_seeds_parse(tmp_path):
    plan = read_seeds(write(tmp_path, SEEDS_YAML))
    assert plan.groups == {"english": ("usa", "uk", "canada")}
    assert plan.source == "test-build"
    assert [question.id for question in plan.questions][:2] == ["food-breakfast", "food-breakfast-again"]
    assert {question.topic for question in plan.questions} == {"food", "greetings", "holidays"}
    assert plan.questions[0].split == "test"
    assert plan.questions[3].split is None
    canada = plan.countries["canada"]
    assert canada.giveaways == ("Canada", "Canadian", "Ottawa")
    usa = plan.countries["usa"]
    assert usa.local_name == "the US"
    assert "US" in usa.giveaways
    assert plan.languages["english"].code == "en"


def test_custom_language_and_default_ids(tmp_path):
    plan = read_seeds(write(tmp_path, CUSTOM_LANGUAGE))
    swahili = plan.languages["swahili"]
    assert (swahili.name, swahili.code, swahili.control_register) == ("Swahili", "sw", "standard written Swahili")
    assert plan.questions[0].id == "food-breakfast-01"
    assert plan.questions[1].id == "sw-breakfast-2"
    assert plan.questions[1].scenario == "What do I eat before school?"
    assert plan.countries["tanzania"].giveaways == ("Tanzania", "Mtanzania", "Dodoma")


def test_digest_follows_file_bytes(tmp_path):
    first = read_seeds(write(tmp_path, SEEDS_YAML)).digest
    second = read_seeds(write(tmp_path, SEEDS_YAML + "# a comment\n")).digest
    assert first != second


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("languages: {english: [usa]}\n", "'topics' must map each topic"),
        ("topics: {food: {breakfast: [x]}}\n", "'languages' must map each language id"),
        ("languages: {english: []}\ntopics: {food: {breakfast: [x]}}\n", "non-empty list of distinct country ids"),
        ("languages: {swahili: [kenya]}\ntopics: {food: {breakfast: [x]}}\n", "not a built-in language"),
        ("languages: {english: [usa, canada]}\ntopics: {food: {breakfast: [x]}}\n", "country 'canada' is not built in"),
        ("languages: {english: [usa, egypt]}\ntopics: {food: {breakfast: [x]}}\n", "belongs to 'arabic'"),
        ("languages: {english: [usa]}\ncountries: {peru: {name: Peru}}\ntopics: {food: {breakfast: [x]}}\n",
         "countries ['peru'] are described but no language"),
        ("languages: {english: [usa]}\ntopics: {food: {breakfast: ['']}}\n", "scenario is missing or empty"),
        ("languages: {english: [usa]}\ntopics: {Food: {breakfast: [x]}}\n", "invalid topic 'Food'"),
        ("languages: {english: [usa]}\ntopics: {food: {breakfast: [{id: A B, scenario: x}]}}\n", "invalid seed id 'A B'"),
        ("languages: {english: [usa]}\ntopics: {food: {breakfast: [{id: a, scenario: x}, {id: a, scenario: y}]}}\n",
         "seed id 'a' is also used"),
        ("languages: {english: [usa]}\ntopics: {food: {breakfast: [{scenario: x, split: dev}]}}\n", "unknown split 'dev'"),
        ("languages: [english\n", "invalid YAML"),
    ],
)
def test_bad_seeds_files_are_rejected(tmp_path, text, fragment):
    with pytest.raises(CultureBenchError) as caught:
        read_seeds(write(tmp_path, text))
    assert fragment in str(caught.value)
    assert "seeds.yaml" in str(caught.value)


def test_missing_seeds_file_is_reported(tmp_path):
    with pytest.raises(CultureBenchError, match="not found"):
        read_seeds(tmp_path / "absent.yaml")

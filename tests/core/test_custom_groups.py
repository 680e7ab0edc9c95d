"""Seed files that declare countries and languages beyond the built-in table."""

import json

import pytest
import yaml

from culturebench.errors import ValidationError
from culturebench.items import LANGUAGE_COUNTRIES, extend_groups
from culturebench.loaders import load_items


def forms(country: str) -> dict:
    return {
        "localized": f"I live in {country}. What is for breakfast?",
        "nonlocalized": "What is for breakfast on a work day?",
        "answer": f"Breakfast as eaten in {country}.",
        "nonlocalized_paraphrases": ["What do people eat before work?"],
    }


def english_file(**overrides) -> dict:
    seed = {
        "id": "en-food-01",
        "topic": "food",
        "subtopic": "breakfast",
        "split": "test",
        "options": [
            {"country": "canada", "text": "Pancakes with maple syrup"},
            {"country": "western", "text": "Toast and jam"},
            {"country": "usa", "text": "Cereal with milk"},
            {"country": "uk", "text": "Beans on toast"},
        ],
        "questions": {country: forms(country) for country in ("usa", "uk", "canada")},
    }
    document = {"language": "english", "countries": ["usa", "uk", "canada"], "source": "my-build", "seeds": [seed]}
    for key, value in overrides.items():
        if key.startswith("seed_"):
            seed[key[5:]] = value
        else:
            document[key] = value
    return document


def write_yaml(path, document):
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_error(path) -> str:
    with pytest.raises(ValidationError) as caught:
        load_items(path)
    return str(caught.value)


def test_extend_groups_adds_country_to_builtin_language():
    groups = extend_groups({"english": ["usa", "canada"]})
    assert groups["english"] == (*LANGUAGE_COUNTRIES["english"], "canada")
    assert groups["arabic"] == LANGUAGE_COUNTRIES["arabic"]


def test_extend_groups_starts_new_language():
    groups = extend_groups({"swahili": ["kenya", "tanzania"]})
    assert groups["swahili"] == ("kenya", "tanzania")
    assert "swahili" not in LANGUAGE_COUNTRIES


@pytest.mark.parametrize(
    ("declared", "fragment"),
    [
        ({"english": ["egypt"]}, "belongs to 'arabic'"),
        ({"english": ["western"]}, "invalid country id 'western'"),
        ({"english": ["New Zealand"]}, "invalid country id 'New Zealand'"),
        ({"Swahili": ["kenya"]}, "invalid language id 'Swahili'"),
        ({"swahili": ["kenya"], "somali": ["kenya"]}, "belongs to 'swahili'"),
    ],
)
def test_extend_groups_rejects_bad_declarations(declared, fragment):
    with pytest.raises(ValidationError, match="seeds.yaml") as caught:
        extend_groups(declared, origin="seeds.yaml")
    assert fragment in str(caught.value)


def test_seed_file_with_custom_country_loads(tmp_path):
    dataset = load_items(write_yaml(tmp_path / "english.yaml", english_file()))
    assert len(dataset) == 6
    canada = [item for item in dataset if item.country == "canada"]
    assert {item.variant for item in canada} == {"localized", "nonlocalized"}
    first = canada[0]
    assert [option.country for option in first.options] == ["canada", "western", "usa", "uk"]
    assert first.answer == 0
    assert {item.split for item in dataset} == {"test"}
    assert {item.source for item in dataset} == {"my-build"}
    nonlocalized = next(item for item in canada if item.variant == "nonlocalized")
    assert nonlocalized.paraphrases == ("What do people eat before work?",)


def test_custom_language_loads_from_folder(tmp_path):
    document = english_file(language="swahili", countries=["kenya", "tanzania"])
    seed = document["seeds"][0]
    seed["options"] = [{"country": "kenya", "text": "Chai na mandazi"}, {"country": "tanzania", "text": "Chai na vitumbua"},
                       {"country": "western", "text": "Mkate na jamu"}]
    seed["questions"] = {country: forms(country) for country in ("kenya", "tanzania")}
    write_yaml(tmp_path / "swahili.yaml", document)
    write_yaml(tmp_path / "english.yaml", english_file())
    dataset = load_items(tmp_path)
    assert {item.language for item in dataset} == {"english", "swahili"}
    assert {item.country for item in dataset if item.language == "swahili"} == {"kenya", "tanzania"}


def test_seed_countries_narrow_the_group(tmp_path):
    document = english_file(seed_countries=["usa", "uk"])
    document["seeds"][0]["questions"].pop("canada")
    dataset = load_items(write_yaml(tmp_path / "english.yaml", document))
    assert {item.country for item in dataset} == {"usa", "uk"}
    # The Canadian option stays as a distractor.
    assert "canada" in {option.country for option in dataset.items[0].options}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"language": "swahili"}, "country 'usa' is declared for 'swahili' but belongs to 'english'"),
        ({"countries": ["usa", "usa"]}, "non-empty list of distinct country ids"),
        ({"seed_split": "dev"}, "unknown split 'dev'"),
        ({"seed_countries": ["usa", "mexico"]}, "outside the 'english' group: ['mexico']"),
        ({"seed_options": [{"country": "usa", "text": "Cereal"}, {"country": "western", "text": "Toast"}]},
         "field 'options.uk' is missing"),
        ({"seed_options": [{"country": "usa", "text": "A"}, {"country": "usa", "text": "B"}]}, "lists a country twice"),
        ({"seed_options": [{"country": "usa"}]}, "field 'options[0]' must be a mapping with 'country' and 'text'"),
    ],
)
def test_invalid_declarations_are_reported(tmp_path, overrides, fragment):
    message = load_error(write_yaml(tmp_path / "english.yaml", english_file(**overrides)))
    assert fragment in message


def test_unknown_language_without_countries_is_rejected(tmp_path):
    document = english_file(language="swahili")
    document.pop("countries")
    message = load_error(write_yaml(tmp_path / "swahili.yaml", document))
    assert "unknown language 'swahili'" in message
    assert "'countries' list" in message


def test_questions_outside_seed_countries_are_rejected(tmp_path):
    document = english_file(seed_countries=["usa", "uk"])
    message = load_error(write_yaml(tmp_path / "english.yaml", document))
    assert "outside the seed's countries: ['canada']" in message


def test_item_file_does_not_declare_countries(tmp_path):
    items = load_items(write_yaml(tmp_path / "english.yaml", english_file()))
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(item.to_dict()) + "\n" for item in items), encoding="utf-8")
    message = load_error(path)
    assert "unknown country 'canada'" in message

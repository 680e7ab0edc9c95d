"""Task documents: data source selection, filtering, ordering and the item round trip."""

from __future__ import annotations

import dataclasses

import pytest

from culturebench.errors import CultureBenchError
from culturebench.loaders import DATA_ENV
from culturebench.tasks import docs
from tests.tasks.conftest import build_items, write_jsonl


def test_metadata_selects_source(arabic_data):
    dataset = docs.load_docs("arabic", "nonloc", culturebench_data=str(arabic_data))["test"]
    assert len(dataset) == 12
    assert set(dataset["variant"]) == {"nonlocalized"}


def test_environment_selects_source(arabic_data, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(arabic_data))
    dataset = docs.load_docs("arabic", "both", pretrained="ignored-model-arg")["test"]
    assert len(dataset) == 24


def test_metadata_overrides_environment(arabic_data, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "missing.jsonl"))
    dataset = docs.load_docs("arabic", "loc", culturebench_data=str(arabic_data))["test"]
    assert len(dataset) == 12


def test_country_filter(arabic_data):
    dataset = docs.load_docs("arabic", "both", country="ksa", culturebench_data=str(arabic_data))["test"]
    assert set(dataset["country"]) == {"ksa"}
    assert len(dataset) == 6


def test_variants_alternate_by_pair(arabic_data):
    dataset = docs.load_docs("arabic", "both", culturebench_data=str(arabic_data))["test"]
    first_four = dataset.select(range(4))
    assert first_four["variant"] == ["localized", "nonlocalized", "localized", "nonlocalized"]
    assert first_four["pair_id"][0] == first_four["pair_id"][1]


def test_split_selection(tmp_path):
    items = build_items("arabic", split="test") + [
        dataclasses.replace(item, id=f"{item.id}-train", pair_id=f"{item.pair_id}-train", split="train")
        for item in build_items("arabic")
    ]
    path = write_jsonl(items, tmp_path / "splits.jsonl")
    assert len(docs.load_docs("arabic", "both", culturebench_data=str(path))["test"]) == 24
    assert len(docs.load_docs("arabic", "both", culturebench_data=str(path), culturebench_split="train")["test"]) == 24
    assert len(docs.load_docs("arabic", "both", culturebench_data=str(path), culturebench_split="all")["test"]) == 48


def test_invalid_split_rejected(arabic_data):
    with pytest.raises(CultureBenchError, match="culturebench_split='dev'"):
        docs.load_docs("arabic", "both", culturebench_data=str(arabic_data), culturebench_split="dev")


def test_no_items_is_clear_error(arabic_data):
    with pytest.raises(CultureBenchError, match="no 'test' items for language='hindi'"):
        docs.load_docs("hindi", "both", culturebench_data=str(arabic_data))


def test_unknown_setting_rejected(arabic_data):
    with pytest.raises(CultureBenchError, match="unknown setting 'all'"):
        docs.load_docs("arabic", "all", culturebench_data=str(arabic_data))


def test_item_round_trip():
    for item in build_items("hindi"):
        assert docs.item_from_doc(docs.item_to_doc(item)) == item


def test_doc_through_arrow_keeps_item_fields(arabic_data):
    doc = docs.load_docs("arabic", "loc", culturebench_data=str(arabic_data))["test"][0]
    assert doc["options"][0] == {"text": "food as done in egypt", "country": "egypt"}
    assert docs.option_texts(doc)[-1] == "western food"
    item = docs.item_from_doc(doc)
    assert item.western_index == 4
    assert item.to_dict() == doc

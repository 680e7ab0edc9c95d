"""Loading the bundled seeds, seed files, the Deep-Culture-Lense layout and exports."""

import json
from pathlib import Path

import pytest
import yaml

from culturebench import bundled
from culturebench.errors import CultureBenchError, ValidationError
from culturebench.items import Item
from culturebench.loaders import export_items, load_items

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MINI_SEEDS = FIXTURES / "seeds" / "hindi_mini.yaml"
DCL_FIXTURE = FIXTURES / "deep_culture_lense"


def test_seed_file_expands_to_pairs():
    dataset = load_items(MINI_SEEDS)
    assert len(dataset) == 8
    by_id = {item.id: item for item in dataset}
    localized = by_id["hi-breakfast-01-nepal-loc"]
    nonlocalized = by_id["hi-breakfast-01-nepal-nonloc"]
    assert localized.pair_id == nonlocalized.pair_id == "hi-breakfast-01-nepal"
    assert localized.options == nonlocalized.options
    assert localized.correct_option.country == "nepal"
    assert localized.correct_option.text == "चिउरा और आलू तरकारी"
    assert localized.western_index is not None
    assert "नेपाल" in localized.question


def test_seed_split_is_by_seed():
    dataset = load_items(MINI_SEEDS)
    splits = {item.seed_id: {i.split for i in dataset if i.seed_id == item.seed_id} for item in dataset}
    assert splits == {"hi-breakfast-01": {"train"}, "hi-greetings-01": {"test"}}


def test_option_order_is_stable():
    first = [item.options for item in load_items(MINI_SEEDS)]
    second = [item.options for item in load_items(MINI_SEEDS)]
    assert first == second


def test_seed_missing_country_names_field(tmp_path):
    document = yaml.safe_load(MINI_SEEDS.read_text(encoding="utf-8"))
    del document["seeds"][1]["options"]["nepal"]
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"seed hi-greetings-01: field 'options.nepal' is missing"):
        load_items(path)


def test_seed_missing_nonlocalized_form(tmp_path):
    document = yaml.safe_load(MINI_SEEDS.read_text(encoding="utf-8"))
    document["seeds"][0]["questions"]["india"]["nonlocalized"] = ""
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"field 'questions.india.nonlocalized' is missing or empty"):
        load_items(path)


def test_deep_culture_lense_fixture_loads():
    dataset = load_items(DCL_FIXTURE)
    assert len(dataset) == 6
    by_country = {item.country: item for item in dataset}
    assert set(by_country) == {"morocco", "australia", "mexico", "portugal", "nepal"}
    nepal = by_country["nepal"]
    assert nepal.language == "hindi"
    assert nepal.answer == 0  # \boxed{१} in Devanagari digits
    assert nepal.split == "test"
    mexico = by_country["mexico"]
    assert mexico.variant == "nonlocalized"
    assert mexico.options[0].text == "Romeritos y bacalao"
    morocco = [item for item in dataset if item.country == "morocco"]
    assert {item.variant for item in morocco} == {"localized", "nonlocalized"}
    assert all(item.split == "train" for item in morocco)
    assert morocco[0].question.startswith("أنا من المغرب")


def test_deep_culture_lense_bad_country_row(tmp_path):
    folder = tmp_path / "dcl" / "data"
    folder.mkdir(parents=True)
    row = json.loads((DCL_FIXTURE / "data" / "test-00000-of-00001.jsonl").read_text(encoding="utf-8").splitlines()[0])
    row["country"] = "Narnia"
    (folder / "test-00000-of-00001.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"row test:0: field 'country': unknown country 'Narnia'"):
        load_items(folder.parent)


def test_hub_offline_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CultureBenchError, match=r"offline.*--data PATH"):
        load_items("hf:MBZUAI-Paris/Deep-Culture-Lense")


@pytest.mark.parametrize("format", ["jsonl", "parquet", "deep-culture-lense"])
def test_export_round_trip(tmp_path, format):
    original = load_items(MINI_SEEDS)
    out = export_items(original, tmp_path / f"export.{format}", format)
    reloaded = load_items(out)
    assert len(reloaded) == len(original)
    for before, after in zip(sorted(original, key=lambda i: i.id), sorted(reloaded, key=lambda i: i.id)):
        assert after.id == before.id
        assert after.answer == before.answer
        assert [o.text for o in after.options] == [o.text for o in before.options]
        assert after.variant == before.variant
        assert after.split == before.split
        assert after.country == before.country
        if format != "deep-culture-lense":
            assert after == before


@pytest.mark.parametrize("format", ["jsonl", "parquet"])
def test_cli_export_rejects_folder_out(tmp_path, capsys, format):
    from culturebench.cli import main

    out = tmp_path / "existing"
    out.mkdir()
    assert main(["data", "export", "--data", str(MINI_SEEDS), "--format", format, "--out", str(out)]) == 2
    assert f"--out {out} is an existing folder" in capsys.readouterr().err
    assert list(tmp_path.rglob("*")) == [out]


def test_cli_export_rejects_file_for_folder_layout(tmp_path, capsys):
    from culturebench.cli import main

    out = tmp_path / "existing.txt"
    out.write_text("", encoding="utf-8")
    code = main(["data", "export", "--data", str(MINI_SEEDS), "--format", "deep-culture-lense", "--out", str(out)])
    assert code == 2
    assert f"--out {out} is a file" in capsys.readouterr().err
    assert list(tmp_path.rglob("*")) == [out]


@pytest.mark.parametrize("format", ["jsonl", "parquet"])
def test_export_failure_leaves_no_temp_file(tmp_path, monkeypatch, format):
    import os

    def fail(*args, **kwargs):
        raise OSError("disk full")

    # The rename fails after the temporary file was written in full.
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        export_items(load_items(MINI_SEEDS), tmp_path / f"export.{format}", format)
    assert list(tmp_path.iterdir()) == []


def test_item_dict_round_trip():
    item = load_items(MINI_SEEDS).items[0]
    assert Item.from_dict(json.loads(json.dumps(item.to_dict()))) == item


def test_missing_source_message():
    with pytest.raises(CultureBenchError, match=r"'does-not-exist.jsonl' not found"):
        load_items("does-not-exist.jsonl")


def test_bundled_seed_files_exist():
    names = {path.stem for path in bundled.seed_files()}
    assert names == {"arabic", "english", "spanish", "portuguese", "hindi"}

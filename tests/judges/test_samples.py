import json

import pytest

from culturebench.errors import CultureBenchError
from culturebench.judges import read_samples
from culturebench.judges.samples import find_samples_files
from tests.judges.conftest import ANSWERS, DATE, TASK, write_samples


def test_read_samples_file(tmp_path):
    path = write_samples(tmp_path / "model", ANSWERS)
    samples = read_samples(path)
    assert [sample.doc_id for sample in samples] == [0, 1, 2, 3]
    first = samples[0]
    assert first.task == TASK
    assert first.answer == ANSWERS[0]
    assert first.gold.startswith("نأكل الفول")
    assert first.country == "egypt"
    assert first.variant == "nonlocalized"
    assert first.language == "arabic"
    assert first.run_model == "model"
    assert first.samples_file == str(path.resolve())
    assert first.doc_hash


def test_directory_takes_latest_open_ended_file_per_task(tmp_path):
    model_dir = tmp_path / "run" / "model"
    old = write_samples(model_dir, ["old"], date="2026-04-01T10-00-00.000001")
    new = write_samples(model_dir, ["new"], date=DATE)
    write_samples(model_dir, ["mcq"], task="culture_arabic_nonloc")
    other_model = write_samples(tmp_path / "run" / "other", ["x"])

    files = find_samples_files(tmp_path / "run")
    assert new in files
    assert other_model in files
    assert old not in files
    assert len(files) == 2
    assert {sample.answer for sample in read_samples(tmp_path / "run")} == {"new", "x"}


def test_directory_without_open_ended_samples(tmp_path):
    write_samples(tmp_path, ["mcq"], task="culture_arabic_nonloc")
    with pytest.raises(CultureBenchError, match="no open-ended samples.*samples_culture_arabic_nonloc_"):
        read_samples(tmp_path)


def test_missing_path(tmp_path):
    with pytest.raises(CultureBenchError, match="not found"):
        read_samples(tmp_path / "absent")


def test_invalid_json_line_names_file_and_line(tmp_path):
    path = write_samples(tmp_path, ["a"])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    with pytest.raises(CultureBenchError, match=f"{path.name}:2: invalid JSON"):
        read_samples(path)


def test_record_without_doc_is_rejected(tmp_path):
    path = tmp_path / f"samples_{TASK}_{DATE}.jsonl"
    path.write_text(json.dumps({"doc_id": 0, "resps": [["a"]]}) + "\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="not an lm-eval sample"):
        read_samples(path)


def test_deep_culture_lense_columns(tmp_path):
    doc = {"prompt_open_ended": "What do you eat?", "chosen_open_ended": "Ful.", "country": "Egypt",
           "localization_status": "nolocalized"}
    record = {"doc_id": 7, "doc": doc, "target": "", "resps": [["ful"]], "filtered_resps": ["ful"]}
    path = tmp_path / f"samples_dcl_oe_{DATE}.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (sample,) = read_samples(path)
    assert sample.question == "What do you eat?"
    assert sample.gold == "Ful."
    assert sample.variant == "nonlocalized"
    assert sample.task == "dcl_oe"


def test_target_fallback_and_missing_fields(tmp_path):
    record = {"doc_id": 0, "doc": {"question": "Q?"}, "target": "gold from target", "filtered_resps": ["a"]}
    no_question = {"doc_id": 1, "doc": {"other": 1}, "target": "", "filtered_resps": ["a"]}
    path = tmp_path / f"samples_x_oe_{DATE}.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(no_question) + "\n", encoding="utf-8")
    first, second = read_samples(path)
    assert first.gold == "gold from target"
    assert first.missing_fields == []
    assert second.missing_fields == ["question", "gold"]


def test_explicit_non_open_ended_file_is_read_with_a_warning(tmp_path, caplog):
    path = write_samples(tmp_path, ["mcq answer"], task="culture_arabic_nonloc")
    (sample,) = read_samples(path)
    assert sample.task == "culture_arabic_nonloc"
    assert "not open-ended" in caplog.text


def loglikelihood_line(doc_id: int, with_arguments: bool = True) -> dict:
    """Return one record as lm-eval 0.4.13 writes it for a multiple_choice task (responses as strings)."""
    record = {
        "doc_id": doc_id,
        "doc": {"question": "Q?", "gold_open": "gold"},
        "target": "0",
        "resps": [[["-1.25", "False"]], [["-3.5", "False"]]],
        "filtered_resps": [["-1.25", "False"], ["-3.5", "False"]],
        "filter": "none",
        "metrics": ["acc", "acc_norm"],
    }
    if with_arguments:
        record["arguments"] = {"gen_args_0": {"arg_0": "Q?", "arg_1": " A"}, "gen_args_1": {"arg_0": "Q?", "arg_1": " B"}}
    return record


@pytest.mark.parametrize("with_arguments", [True, False])
def test_loglikelihood_samples_are_rejected(tmp_path, with_arguments):
    path = tmp_path / f"samples_culture_arabic_nonloc_ll_{DATE}.jsonl"
    path.write_text(json.dumps(loglikelihood_line(0, with_arguments)) + "\n", encoding="utf-8")
    with pytest.raises(CultureBenchError) as raised:
        read_samples(path)
    message = str(raised.value)
    assert str(path) in message
    assert "'culture_arabic_nonloc_ll' is not a generation task" in message
    assert "culture_arabic_nonloc_oe" in message


def test_loglikelihood_rolling_samples_are_rejected(tmp_path):
    record = {"doc_id": 0, "doc": {"question": "Q?"}, "arguments": {"gen_args_0": {"arg_0": "text"}},
              "resps": [["-12.5"]], "filtered_resps": ["-12.5"]}
    path = tmp_path / f"samples_wikitext_{DATE}.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="'wikitext' is not a generation task"):
        read_samples(path)

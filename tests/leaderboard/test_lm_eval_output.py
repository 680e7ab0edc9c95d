"""Reading lm-eval results and samples files: the real layout, correctness and the chosen option."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from culturebench.leaderboard import build_site
from culturebench.leaderboard.lm_eval_output import read_results_file
from tests.leaderboard.study import QUESTION_XSS, build_items, write_lm_eval_output

TASK_YAML = """\
task: probe_{name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {docs}
test_split: test
output_type: {output_type}
doc_to_text: "{{{{question}}}}"
{extra}
metadata:
  version: 1.0
"""


def _ll_record(doc_id: int, item: dict, lls: list[float], metrics: dict) -> dict:
    choices = [option["text"] for option in item["options"]]
    return {
        "doc_id": doc_id,
        "doc": item,
        "target": str(item["answer"]),
        "arguments": {f"gen_args_{i}": {"arg_0": "Q", "arg_1": " " + c} for i, c in enumerate(choices)},
        "resps": [[[str(ll), "False"]] for ll in lls],
        "filtered_resps": [[str(ll), "False"] for ll in lls],
        "filter": "none",
        "metrics": sorted(metrics),
        "doc_hash": "0",
        "prompt_hash": "0",
        "target_hash": "0",
        **metrics,
    }


def _gen_record(doc_id: int, item: dict, response: str, metrics: dict) -> dict:
    return {
        "doc_id": doc_id,
        "doc": item,
        "target": str(item["answer"]),
        "arguments": {"gen_args_0": {"arg_0": "Q", "arg_1": {"until": ["\n\n"]}}},
        "resps": [[response]],
        "filtered_resps": [response],
        "filter": "none",
        "metrics": sorted(metrics),
        "doc_hash": "0",
        "prompt_hash": "0",
        "target_hash": "0",
        **metrics,
    }


@pytest.fixture()
def english_item():
    return build_items("english")[0]  # usa, options usa/uk/australia/western, answer 0


@pytest.mark.slow
def test_real_lm_eval_output_read(tmp_path, tiny_model_dir):
    items = build_items("arabic")[:4]
    items[2]["question"] = f"Breakfast? {QUESTION_XSS}"
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    (task_dir / "probe_ll.yaml").write_text(TASK_YAML.format(
        name="ll", docs=docs, output_type="multiple_choice",
        extra="doc_to_choice: \"{{options|map(attribute='text')|list}}\"\ndoc_to_target: answer\n"
              "metric_list:\n  - metric: acc\n  - metric: acc_norm"), encoding="utf-8")
    (task_dir / "probe_gen.yaml").write_text(TASK_YAML.format(
        name="gen", docs=docs, output_type="generate_until",
        extra="doc_to_target: \"{{answer}}\"\ngeneration_kwargs:\n  until: [\"\\n\\n\"]\n  max_gen_toks: 6\n"
              "  do_sample: false\nmetric_list:\n  - metric: exact_match"), encoding="utf-8")
    output = tmp_path / "out"
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={tiny_model_dir}",
        "--tasks", "probe_ll,probe_gen", "--include_path", str(task_dir), "--output_path", str(output),
        "--log_samples", "--device", "cpu",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600,
                               env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    assert completed.returncode == 0, completed.stderr[-3000:]

    [results_path] = sorted(output.glob("*/results_*.json"))
    results = read_results_file(results_path)
    ll = results.tasks["probe_ll"]
    gen = results.tasks["probe_gen"]
    raw = [json.loads(line) for line in ll.samples_file.read_text(encoding="utf-8").splitlines()]

    assert set(results.tasks) == {"probe_ll", "probe_gen"}
    assert ll.output_type == "multiple_choice"
    assert (ll.n_original, ll.n_effective) == (4, 4)
    assert [sample.correct for sample in ll.samples] == [float(record["acc_norm"]) for record in raw]
    assert all(sample.chosen is not None and 0 <= sample.chosen < 5 for sample in ll.samples)
    assert [sample.variant for sample in ll.samples] == ["localized", "nonlocalized"] * 2
    assert ll.samples[2].question == f"Breakfast? {QUESTION_XSS}"
    assert ll.metric("acc") == pytest.approx(sum(record["acc"] for record in raw) / 4)
    assert gen.output_type == "generate_until"
    assert all(isinstance(sample.response, str) for sample in gen.samples)
    assert results.data["lm_eval_version"] == "0.4.13"

    summary = build_site([output], tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    [run_page] = (tmp_path / "site").glob("run-*.html")
    run_html = run_page.read_text(encoding="utf-8")
    assert summary.runs == 1
    assert 'data-run="' in index
    assert QUESTION_XSS not in run_html
    assert "Breakfast? &lt;script&gt;" in run_html


def test_acc_norm_picks_length_normalised_option(tmp_path, english_item):
    # Raw log-likelihoods favour option 2 ("Vegemite on toast", 17 characters); per character,
    # option 0 ("pancakes with maple syrup", 25 characters) wins.
    lengths = [len(option["text"]) for option in english_item["options"]]
    lls = [-20.0, -100.0, -15.0, -100.0]
    assert lls[2] > lls[0]
    assert lls[2] / lengths[2] < lls[0] / lengths[0]
    record = _ll_record(0, english_item, lls, {"acc": 0, "acc_norm": 1})
    write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                         {"culture_english_both_ll": ("multiple_choice", "english", [record])})

    [path] = tmp_path.glob("*/results_*.json")
    normalised = read_results_file(path).tasks["culture_english_both_ll"].samples[0]
    raw = read_results_file(path, metric="acc").tasks["culture_english_both_ll"].samples[0]

    assert (normalised.correct, normalised.chosen) == (1.0, 0)
    assert (raw.correct, raw.chosen) == (0.0, 2)


def test_pred_field_overrides_argmax(tmp_path, english_item):
    records = [
        _ll_record(0, english_item, [-1.0, -9.0, -9.0, -9.0], {"acc": 1, "pred": 3}),
        _ll_record(1, english_item, [-1.0, -9.0, -9.0, -9.0], {"acc": 1, "pred": None}),
    ]
    write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                         {"culture_english_both_ll": ("multiple_choice", "english", records)})
    [path] = tmp_path.glob("*/results_*.json")
    samples = read_results_file(path).tasks["culture_english_both_ll"].samples

    assert samples[0].chosen == 3
    assert samples[0].chosen_country == "western"
    assert samples[1].chosen == -1
    assert samples[1].chosen_country is None


def test_generation_choice_extracted_from_box(tmp_path, english_item):
    records = [
        _gen_record(0, english_item, "I think \\boxed{2}", {"acc": 0, "extraction_failed": 0}),
        _gen_record(1, english_item, "no idea at all", {"acc": 0, "extraction_failed": 1}),
    ]
    write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                         {"culture_english_both": ("generate_until", "english", records)})
    [path] = tmp_path.glob("*/results_*.json")
    samples = read_results_file(path).tasks["culture_english_both"].samples

    assert samples[0].chosen == 1
    assert samples[0].response == "I think \\boxed{2}"
    assert samples[0].extraction_failed is False
    assert samples[1].chosen == -1
    assert samples[1].extraction_failed is True


def test_variant_record_gives_correctness(tmp_path, english_item):
    record = _gen_record(0, english_item, "x", {"acc_loc": {"variant": "localized", "correct": 1}})
    write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                         {"culture_english_both": ("generate_until", "english", [record])})
    [path] = tmp_path.glob("*/results_*.json")

    assert read_results_file(path).tasks["culture_english_both"].samples[0].correct == 1.0


def test_unreadable_sample_lines_counted(tmp_path, english_item):
    record = _ll_record(0, english_item, [-1.0, -2.0, -3.0, -4.0], {"acc": 1})
    write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                         {"culture_english_both_ll": ("multiple_choice", "english", [record])})
    [samples_path] = tmp_path.glob("*/samples_*.jsonl")
    with samples_path.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n[1, 2]\n")
    [path] = tmp_path.glob("*/results_*.json")
    output = read_results_file(path).tasks["culture_english_both_ll"]

    assert len(output.samples) == 1
    assert output.problems == [f"{samples_path.name}: 2 unreadable line(s) skipped"]


def test_results_without_results_object_rejected(tmp_path):
    path = tmp_path / "results_2026.json"
    path.write_text(json.dumps({"config": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="no 'results' object"):
        read_results_file(path)


def test_group_entries_skipped(tmp_path, english_item):
    record = _ll_record(0, english_item, [-1.0, -2.0, -3.0, -4.0], {"acc": 1})
    path = write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                                {"culture_english_both_ll": ("multiple_choice", "english", [record])})
    data = json.loads(path.read_text(encoding="utf-8"))
    data["results"]["culture_english"] = {"alias": "culture_english", "acc,none": 0.5}
    path.write_text(json.dumps(data), encoding="utf-8")

    assert set(read_results_file(path).tasks) == {"culture_english_both_ll"}


def test_missing_samples_file_leaves_none(tmp_path, english_item):
    record = _ll_record(0, english_item, [-1.0, -2.0, -3.0, -4.0], {"acc": 1})
    path = write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                                {"culture_english_both_ll": ("multiple_choice", "english", [record])})
    for samples in path.parent.glob("samples_*.jsonl"):
        samples.unlink()
    output = read_results_file(path).tasks["culture_english_both_ll"]

    assert output.samples is None
    assert output.samples_file is None
    assert output.metric("acc") == 1.0


def test_results_path_name_matches_lm_eval(tmp_path):
    path = write_lm_eval_output(tmp_path, {"pretrained": "org/model"}, "hf", {})
    assert path.parent == Path(tmp_path / "org__model")
    assert path.name.startswith("results_")

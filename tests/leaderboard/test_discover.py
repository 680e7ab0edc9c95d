"""Grouping result files into runs: manifests, status, superseded files, judge joins, provenance."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from culturebench.errors import CultureBenchError
from culturebench.leaderboard.discover import collect_inputs
from tests.leaderboard.study import MODEL, build_items, write_lm_eval_output


def test_runs_found_in_display_order(inputs):
    keys = [run.key for run in inputs.runs]

    assert keys == [
        "baseline", "caa-localized-limit", "caa", "sas", "bipo", "bipo-both-failed", "yapo",
    ]
    assert inputs.problems == []


def test_manifest_owns_nested_results(runs_by_key):
    yapo = runs_by_key["yapo"]

    assert sorted(yapo.tasks) == ["culture_arabic_both_ll", "culture_arabic_both_oe", "culture_english_both_ll"]
    assert yapo.status == "ok"
    assert yapo.notes == []
    assert yapo.label == "YaPO · nonlocalized · morocco"


def test_failed_run_without_results_kept(runs_by_key):
    failed = runs_by_key["bipo-both-failed"]

    assert failed.status == "failed"
    assert failed.tasks == {}
    assert failed.notes == ["training diverged: loss is NaN at step 120", "no lm-eval results found"]


def test_limit_marks_run_partial(runs_by_key):
    partial = runs_by_key["caa-localized-limit"]

    assert partial.status == "partial"
    assert "culture_english_both_ll: evaluated 6 of 30 documents (--limit)" in partial.notes
    assert "vector file missing.safetensors not found, so its header and hash are missing" in partial.notes
    assert partial.method == "caa"


def test_judge_results_joined(runs_by_key, study):
    samples = runs_by_key["yapo"].tasks["culture_arabic_both_oe"].samples
    verdicts = [sample.verdict for sample in samples]

    assert all(verdict is not None for verdict in verdicts)
    assert verdicts[3].status == "failed: invalid_json"
    assert verdicts[3].score is None
    assert verdicts[2].rationale.endswith('</div><script>window.__xss = "rationale"</script>')
    scored = [v.score for v, s in zip(verdicts, samples) if v.score is not None and s.variant == "localized"]
    assert scored == study.judge_scores[("yapo", "arabic", "localized")]
    assert runs_by_key["yapo"].judge_summaries[0]["failures"] == {"invalid_json": "1"}


def test_provenance_merges_sources(runs_by_key, study):
    yapo = runs_by_key["yapo"].provenance
    vector = study.runs["yapo"] / "vector.safetensors"

    assert yapo["vector_sha256"] == hashlib.sha256(vector.read_bytes()).hexdigest()
    assert yapo["sae"] == f"culturebench-gemma-3-270m-res / layer_6 (d_sae 4096, sha256 {'e' * 64})"
    assert yapo["training_data_sha256"] == "d" * 64
    assert yapo["multiplier"] == "1"
    assert yapo["seeds"] == "eval=1234, train=0"
    assert yapo["lm_eval_version"] == "0.4.13"
    assert yapo["transformers_version"] == "5.25.0"
    assert yapo["date"] == "2026-05-01T12:00:00Z"
    assert yapo["judge"] == "openai:gpt-4o-mini"


def test_baseline_vector_fields_not_used(runs_by_key):
    baseline = runs_by_key["baseline"].provenance

    assert baseline["vector"] == "not used"
    assert baseline["sae"] == "not used"
    assert baseline["setting"] == "not used"
    assert baseline["model"] == MODEL


def test_missing_fields_stay_none(runs_by_key):
    partial = runs_by_key["caa-localized-limit"].provenance

    assert partial["dataset_sha256"] is None
    assert partial["dataset"] == "load_docs(language=english, setting=both)"
    assert partial["judge"] == "not used"
    assert partial["vector_sha256"] is None
    assert partial["culturebench_version"] == "0.1.0"  # from the task config metadata
    assert partial["seeds"] == "random_seed=0, numpy_seed=1234, torch_seed=1234, fewshot_seed=1234"
    assert partial["date"] == "2026-05-01T12:00:00Z"


def _english_records(count: int, correct: bool) -> list[dict]:
    from tests.leaderboard.study import _ll_record

    items = build_items("english")[:count]
    return [_ll_record(i, item, item["answer"] if correct else 3) for i, item in enumerate(items)]


def test_newest_results_file_wins(tmp_path):
    run = tmp_path / "run"
    old = write_lm_eval_output(run, {"pretrained": "m"}, "hf",
                               {"culture_english_both_ll": ("multiple_choice", "english", _english_records(4, False))},
                               date_id="2026-01-01T00-00-00", date=1767225600.0)
    write_lm_eval_output(run, {"pretrained": "m"}, "hf",
                         {"culture_english_both_ll": ("multiple_choice", "english", _english_records(4, True))},
                         date_id="2026-02-01T00-00-00", date=1769904000.0)
    [only] = collect_inputs([tmp_path]).runs

    assert [sample.correct for sample in only.tasks["culture_english_both_ll"].samples] == [1.0] * 4
    assert only.superseded == [old]


def test_vector_hash_mismatch_noted(tmp_path, study):
    run = tmp_path / "yapo"
    shutil.copytree(study.runs["yapo"], run)
    manifest = json.loads((run / "run.json").read_text())
    manifest["vector_sha256"] = "0" * 64
    (run / "run.json").write_text(json.dumps(manifest))
    [only] = collect_inputs([tmp_path]).runs

    assert any(note.startswith("vector SHA-256 mismatch: run.json says 0000") for note in only.notes)


def test_unreadable_results_file_marks_partial(tmp_path, study):
    run = tmp_path / "yapo"
    shutil.copytree(study.runs["yapo"], run)
    (run / "lm_eval" / "results_2026-06-01T00-00-00.json").write_text("{truncated", encoding="utf-8")
    [only] = collect_inputs([tmp_path]).runs

    assert only.status == "partial"
    assert any(note.startswith("results_2026-06-01T00-00-00.json unreadable") for note in only.notes)


def test_judge_file_outside_runs_reported(tmp_path, study):
    shutil.copytree(study.runs["baseline"], tmp_path / "runs" / "baseline")
    stray = tmp_path / "judged"
    stray.mkdir()
    (stray / "results.jsonl").write_text(json.dumps({"doc_id": 0, "judge": "openai:x", "status": "ok",
                                                      "scores": {"overall": 1.0}}) + "\n")
    (tmp_path / "runs" / "other").mkdir()
    shutil.copytree(study.runs["yapo"], tmp_path / "runs" / "other" / "yapo")
    inputs = collect_inputs([tmp_path])

    assert inputs.problems == [f"judge results {stray / 'results.jsonl'} (1 records) belong to no run directory"]


def test_unmatched_judge_records_noted(tmp_path, study):
    run = tmp_path / "baseline"
    shutil.copytree(study.runs["baseline"], run)
    with (run / "judge" / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"task": "culture_arabic_both_oe", "doc_id": 999, "judge": "openai:gpt-4o-mini",
                                 "status": "ok", "scores": {"overall": 0.5}}) + "\n")
    [only] = collect_inputs([tmp_path]).runs

    assert "1 judge result(s) match no lm-eval sample and carry no language/variant" in only.notes


def test_unjudged_open_ended_noted(tmp_path, study):
    run = tmp_path / "baseline"
    shutil.copytree(study.runs["baseline"], run)
    shutil.rmtree(run / "judge")
    [only] = collect_inputs([tmp_path]).runs

    assert "culture_arabic_both_oe: open-ended answers not judged (run `culturebench judge`)" in only.notes


def test_missing_results_directory_rejected(tmp_path):
    with pytest.raises(CultureBenchError, match="results directory .*nowhere not found"):
        collect_inputs([tmp_path / "nowhere"])


def test_training_logs_and_analyses_read(inputs):
    analyses = inputs.analyses

    assert [log.label for log in analyses.training_logs] == ["bipo morocco nonlocalized", "yapo morocco nonlocalized"]
    assert len(analyses.training_logs[0].train) == 21
    assert [step for step, _ in analyses.training_logs[0].eval] == [0, 50, 100, 150, 200]
    assert analyses.patching[0].layers == list(range(18))
    assert max(analyses.patching[0].delta_correct) == analyses.patching[0].delta_correct[6]
    assert analyses.patching[0].correct_ci[6] == pytest.approx((0.25, 0.35))
    assert len(analyses.sweeps[0][1]) == 24
    sweep_dir, points = analyses.sweeps[1]
    assert sweep_dir.name == "caa-morocco"
    assert {(point.method, point.setting, point.country) for point in points} == {("caa", "nonlocalized", "morocco")}
    assert [point.multiplier for point in points] == [0.0, 0.0, 1.0, 1.0, 4.0, 4.0]
    assert [point.accuracy for point in points][4:] == [0.0, 0.0]
    assert [c.task for c in analyses.comparisons[0][1]] == ["mmlu_local", "mmlu_local", "behaviour_hallucination"]


def test_cached_preset_folder_named_by_hub_id(tmp_path):
    from culturebench.leaderboard.provenance import canonical_model
    from culturebench.model_presets import get_preset

    folder = tmp_path / "default"
    folder.mkdir()
    (folder / "culturebench-model.json").write_text(json.dumps({
        "format": 1, "preset": "default", "distribution": "gemma3-gguf", "distribution_version": "1.0.0",
        "gguf_sha256": "ab12",
    }))

    assert canonical_model(str(folder)) == (get_preset("default").hub_id, "gemma3-gguf 1.0.0 (GGUF sha256 ab12)")
    assert canonical_model("default") == (get_preset("default").hub_id, None)
    assert canonical_model(str(tmp_path / "plain")) == (str(tmp_path / "plain"), None)


def _steered_run(tmp_path, vector_reference: str, recorded_vector: str | None) -> None:
    """Write a steered_hf run below tmp_path/results, as lm-eval writes it when started from tmp_path/work."""
    config_extra = {"steering_vectors": [recorded_vector], "steering_methods": ["sas"]} if recorded_vector else {}
    path = write_lm_eval_output(tmp_path / "results" / "sas-run", {"pretrained": MODEL, "vector": vector_reference},
                                "steered_hf",
                                {"culture_english_both_ll": ("multiple_choice", "english", _english_records(4, True))})
    data = json.loads(path.read_text(encoding="utf-8"))
    data["config"].update(config_extra)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_steered_hf_absolute_vector_found(tmp_path):
    from tests.leaderboard.study import write_vector

    vector = write_vector(tmp_path / "work" / "vectors" / "sas.safetensors", "sas", "nonlocalized", "morocco")
    _steered_run(tmp_path, "vectors/sas.safetensors", str(vector.resolve()))
    [only] = collect_inputs([tmp_path / "results"]).runs

    assert only.provenance["method"] == "sas"
    assert only.provenance["vector"] == str(vector.resolve())
    assert only.provenance["vector_sha256"] == hashlib.sha256(vector.read_bytes()).hexdigest()
    assert only.provenance["country"] == "morocco"
    assert not any("not found" in note for note in only.notes)


def test_steered_hf_relative_vector_fallback(tmp_path):
    from tests.leaderboard.study import write_vector

    _steered_run(tmp_path, "sas.safetensors", str(tmp_path / "moved" / "sas.safetensors"))
    run_dir = next((tmp_path / "results" / "sas-run").rglob("results_*.json")).parent
    vector = write_vector(run_dir / "sas.safetensors", "yapo", "localized", "egypt")
    [only] = collect_inputs([tmp_path / "results"]).runs

    assert only.provenance["vector"] == "sas.safetensors"
    assert only.provenance["vector_sha256"] == hashlib.sha256(vector.read_bytes()).hexdigest()
    assert only.provenance["method"] == "sas"
    assert only.provenance["country"] == "egypt"


def test_old_training_logs_labelled_from_vector(tmp_path):
    from tests.leaderboard.study import write_vector

    cli = tmp_path / "results" / "cli"
    write_vector(cli / "yapo-egypt.safetensors", "yapo", "localized", "egypt")
    pipeline = tmp_path / "results" / "study"
    write_vector(pipeline / "vectors" / "bipo-india-both.safetensors", "bipo", "both", "india")
    old_record = json.dumps({"step": 1, "loss": 0.69, "lr": 5e-4}) + "\n"
    (cli / "yapo-egypt.log.jsonl").write_text(old_record, encoding="utf-8")
    (pipeline / "training").mkdir()
    (pipeline / "training" / "bipo-india-both.jsonl").write_text(old_record, encoding="utf-8")
    (tmp_path / "results" / "orphan.log.jsonl").write_text(old_record, encoding="utf-8")
    logs = collect_inputs([tmp_path / "results"]).analyses.training_logs

    labels = sorted(log.label for log in logs)
    assert labels == ["bipo india both", "orphan.log", "yapo egypt localized"]


@pytest.mark.parametrize(("name", "key"), [
    ("caa مصر محلي", "caa-مصر-محلي"),
    ("sas हिन्दी भारत", "sas-हिन्दी-भारत"),
    ("YaPO / Ｅｇｙｐｔ", "yapo-egypt"),
    ("vector.v2_final", "vector.v2_final"),
    ("— / —", "run"),
])
def test_run_keys_keep_unicode_letters(tmp_path, name, key):
    run = tmp_path / "results" / "one"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"name": name, "status": "failed", "error": "stopped"}),
                                  encoding="utf-8")
    [only] = collect_inputs([tmp_path / "results"]).runs

    assert only.key == key


def test_unicode_run_keys_stay_distinct(tmp_path):
    for folder, name in (("a", "caa مصر"), ("b", "caa المغرب"), ("c", "caa مصر")):
        run = tmp_path / "results" / folder
        run.mkdir(parents=True)
        (run / "run.json").write_text(json.dumps({"name": name, "status": "failed", "error": "stopped"}),
                                      encoding="utf-8")
    keys = [run.key for run in collect_inputs([tmp_path / "results"]).runs]

    assert sorted(keys) == sorted(["caa-مصر", "caa-المغرب", "caa-مصر-2"])

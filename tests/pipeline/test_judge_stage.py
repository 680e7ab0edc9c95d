"""The judge stage against the stub judge server on 127.0.0.1, and its absence when no judge is configured."""

from __future__ import annotations

import json

import pytest

from culturebench.leaderboard.discover import collect_inputs
from culturebench.pipeline.runner import run_pipeline
from culturebench.pipeline.summary import format_report
from tests.judges.stub_server import StubJudgeServer
from tests.pipeline.conftest import tiny_config


@pytest.fixture
def judge_env(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    monkeypatch.setenv("CULTUREBENCH_CACHE", str(tmp_path / "user-cache"))
    monkeypatch.delenv("CULTUREBENCH_CACHE_DIR", raising=False)


def test_configured_judge_scores_open_answers(tmp_path, tiny_model_dir, tiny_sae_dir, judge_env):
    run_dir = tmp_path / "run"
    with StubJudgeServer() as stub:
        spec = f"openai-compatible:{stub.openai_base_url}:stub-judge"
        config = tiny_config(tiny_model_dir, tiny_sae_dir, run_dir, "methods=", f"judge.spec={spec}",
                             "eval.limit=2", "eval.max_gen_toks=8")
        report = run_pipeline(config)
        requests = len(stub.log)

    assert report.stage("judge").computed == ["judge-baseline"]
    assert requests == 2
    records = [json.loads(line) for line in
               (run_dir / "evals" / "baseline" / "judge" / "judge.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [record["task"] for record in records] == ["culture_arabic_morocco_both_oe"] * 2
    assert all(record["status"] == "ok" for record in records)
    assert (run_dir / "evals" / "baseline" / "judge" / "judge.summary.json").is_file()

    judge = report.metrics["settings"]["baseline"]["judge"]
    assert judge["scored"] == 2
    assert judge["failed"] == 0
    assert "judge loc" in format_report(report)
    inputs = collect_inputs([run_dir / "evals" / "baseline"])
    assert not [problem for problem in inputs.problems if "judge" in problem]
    (run,) = inputs.runs
    assert len(run.judge_summaries) == 1

    rerun = run_pipeline(config)
    assert rerun.stage("judge").reused == ["judge-baseline"]
    assert not rerun.weights_loaded

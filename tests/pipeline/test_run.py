"""The `--quick` profile of `culturebench run` on the real default model, then a re-run that reuses every stage."""

from __future__ import annotations

import json
import time

import pytest

from culturebench.cli import main

STAGES = ("model", "pairs", "vectors", "evaluate", "judge", "report")
EVALUATED = ["baseline"] + [f"{method}-morocco-both" for method in ("caa", "sas", "bipo", "yapo")]


@pytest.mark.slow
def test_quick_run_then_rerun_reuses_stages(tmp_path, capsys):
    run_dir = tmp_path / "quick"
    assert main(["run", "--quick", "--out", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    index = run_dir / "site" / "index.html"
    assert f"leaderboard: {index}" in printed
    assert "skipped: no judge configured" in printed
    for name in EVALUATED:
        assert name in printed

    first = json.loads((run_dir / "state" / "last-run.json").read_text(encoding="utf-8"))
    assert [stage["name"] for stage in first["stages"]] == list(STAGES)
    assert first["weights_loaded"]
    assert index.is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert list(metrics["settings"]) == EVALUATED
    assert metrics["model"] == "google/gemma-3-270m"
    for name in EVALUATED[1:]:
        assert (run_dir / "vectors" / f"{name}.safetensors").is_file()
    for name in ("bipo-morocco-both", "yapo-morocco-both"):
        assert (run_dir / "training" / f"{name}.jsonl").is_file()

    started = time.perf_counter()
    assert main(["run", "--quick", "--out", str(run_dir)]) == 0
    seconds = time.perf_counter() - started
    second = json.loads((run_dir / "state" / "last-run.json").read_text(encoding="utf-8"))
    assert not second["weights_loaded"]
    for stage in second["stages"]:
        assert stage["computed"] == [], f"stage {stage['name']} recomputed {stage['computed']}"
    assert json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")) == metrics
    assert seconds < 60, f"the re-run took {seconds:.0f} s"

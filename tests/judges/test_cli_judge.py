"""`culturebench judge` end to end: lm-eval samples in, results and summary out, resumable after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from culturebench.cli import main
from culturebench.judges import read_results
from tests.judges.conftest import ANSWERS, GEMINI_KEY, OPENAI_KEY, TASK, write_samples

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def base_urls(stub, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", stub.openai_base_url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", stub.url)


@pytest.mark.parametrize("backend", ["openai:gpt-4o-mini", "gemini:gemini-2.5-flash", "compatible"])
def test_judge_command_scores_samples(stub, api_keys, base_urls, tmp_path, capsys, backend):
    spec = f"openai-compatible:{stub.openai_base_url}:qwen" if backend == "compatible" else backend
    run_dir = tmp_path / "run"
    write_samples(run_dir / "model", ANSWERS)
    write_samples(run_dir / "model", ["mcq"], task="culture_arabic_nonloc")
    out = run_dir / "judge.jsonl"

    code = main(["judge", "--samples", str(run_dir), "--judge", spec, "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"])

    assert code == 0
    records = read_results(out)
    assert [(record["task"], record["doc_id"]) for record in records] == [(TASK, n) for n in range(len(ANSWERS))]
    assert all(record["status"] == "ok" for record in records)
    summary = json.loads((run_dir / "judge.summary.json").read_text(encoding="utf-8"))
    assert summary["judge"] == spec
    assert summary["counts"]["scored"] == len(ANSWERS)
    assert json.loads(capsys.readouterr().out) == summary


def test_judge_command_reports_total_failure(stub, api_keys, base_urls, tmp_path, capsys):
    path = write_samples(tmp_path / "model", ["FAULT:safety*inf", "FAULT:empty*inf"])

    code = main(["judge", "--samples", str(path), "--judge", "openai:gpt-4o-mini",
                 "--out", str(tmp_path / "judge.jsonl"), "--no-cache", "--no-progress"])

    assert code == 2
    error = capsys.readouterr().err
    assert "scored none of 2 items" in error
    assert "safety_block: 1" in error
    assert len(read_results(tmp_path / "judge.jsonl")) == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--judge", "bard:x"], "unknown backend 'bard'"),
        (["--price-input", "1"], "give both --price-input and --price-output"),
        (["--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_judge_command_rejects_bad_options(api_keys, tmp_path, capsys, arguments, message):
    path = write_samples(tmp_path / "model", ["a"])
    base = {"--samples": str(path), "--judge": "openai:gpt-4o-mini", "--out": str(tmp_path / "o.jsonl")}
    for flag, value in zip(arguments[::2], arguments[1::2]):
        base[flag] = value
    argv = ["judge", *[part for pair in base.items() for part in pair], "--no-progress"]

    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("case", ["out is a folder", "summary is a folder", "parent is a file"])
def test_judge_command_checks_out_before_requests(stub, api_keys, base_urls, tmp_path, capsys, case):
    path = write_samples(tmp_path / "model", ANSWERS)
    out = tmp_path / "judge.jsonl"
    if case == "out is a folder":
        out.mkdir()
    elif case == "summary is a folder":
        (tmp_path / "judge.summary.json").mkdir()
    else:
        (tmp_path / "file").write_text("", encoding="utf-8")
        out = tmp_path / "file" / "judge.jsonl"

    code = main(["judge", "--samples", str(path), "--judge", "openai:gpt-4o-mini", "--out", str(out),
                 "--no-cache", "--no-progress"])

    assert code == 2
    assert str(out if case != "summary is a folder" else tmp_path / "judge.summary.json") in capsys.readouterr().err
    assert stub.log == []
    assert not list(tmp_path.glob(".*.tmp"))


def test_judge_command_rejects_unwritable_folder(stub, api_keys, base_urls, tmp_path, capsys, monkeypatch):
    path = write_samples(tmp_path / "model", ANSWERS)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root may write to any folder, so the test reports this one as read-only whoever runs it.
    monkeypatch.setattr(os, "access", lambda target, mode: Path(target) != locked and real_access(target, mode))

    code = main(["judge", "--samples", str(path), "--judge", "openai:gpt-4o-mini",
                 "--out", str(locked / "judge.jsonl"), "--no-cache", "--no-progress"])

    assert code == 2
    assert "is not writable" in capsys.readouterr().err
    assert stub.log == []


def test_explicit_prices_drive_the_estimate(stub, api_keys, base_urls, tmp_path):
    path = write_samples(tmp_path / "model", ["a"])
    out = tmp_path / "judge.jsonl"
    main(["judge", "--samples", str(path), "--judge", f"openai-compatible:{stub.openai_base_url}:m", "--out", str(out),
          "--no-cache", "--no-progress", "--price-input", "1000000", "--price-output", "0"])
    summary = json.loads((tmp_path / "judge.summary.json").read_text(encoding="utf-8"))
    assert summary["cost_usd"] == summary["tokens"]["input"]


def test_kill_and_resume(stub, api_keys, tmp_path):
    """A run killed mid-way keeps every reply it received, and the rerun pays only for the rest."""
    stub.state.latency_s = 0.2
    answers = [f"الفول والطعمية {n}" for n in range(16)]
    samples = write_samples(tmp_path / "model", answers)
    cache_dir = tmp_path / "cache"
    out = tmp_path / "judge.jsonl"
    argv = [sys.executable, "-c", "import sys; from culturebench.cli import main; sys.exit(main())", "judge", "--samples", str(samples),
            "--judge", f"openai-compatible:{stub.openai_base_url}:m", "--out", str(out),
            "--cache-dir", str(cache_dir), "--concurrency", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    cached_before_kill = 0
    while cached_before_kill < 5 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        files = list(cache_dir.glob("*.jsonl"))
        cached_before_kill = len(files[0].read_text(encoding="utf-8").splitlines()) if files else 0
    assert process.poll() is None, process.stderr.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    requests_first_run = len(stub.log)
    cached_after_kill = len(next(cache_dir.glob("*.jsonl")).read_text(encoding="utf-8").splitlines())

    assert 5 <= cached_after_kill < len(answers)
    assert not out.exists()

    resumed = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr.decode()
    requests_second_run = len(stub.log) - requests_first_run

    assert requests_second_run == len(answers) - cached_after_kill
    assert requests_first_run - cached_after_kill <= 2  # at most the requests in flight at the kill
    records = read_results(out)
    assert [record["doc_id"] for record in records] == list(range(len(answers)))
    assert all(record["status"] == "ok" for record in records)
    summary = json.loads((tmp_path / "judge.summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["cached_calls"] == cached_after_kill
    for secret in (OPENAI_KEY, GEMINI_KEY):
        assert secret not in resumed.stderr.decode()

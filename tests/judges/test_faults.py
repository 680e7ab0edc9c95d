"""Fault table: each injected fault, through the real SDKs against the stub, ends as documented."""

import pytest

from culturebench.judges import GenerationSettings, judge_samples, read_samples
from tests.judges.conftest import fast_config, stub_spec, write_samples

GOLD_WORDS = "نأكل الفول المدمس والطعمية"

# (fault, backends, status, failure reason, requests the stub receives)
CASES = [
    ("FAULT:429", ("openai", "gemini", "openai-compatible"), "ok", None, 2),
    ("FAULT:500", ("openai", "gemini", "openai-compatible"), "ok", None, 2),
    ("FAULT:500*inf", ("openai", "gemini"), "failed", "server_error", 3),
    ("FAULT:stall", ("openai", "gemini"), "ok", None, 2),
    ("FAULT:stall*inf", ("openai", "gemini"), "failed", "timeout", 3),
    ("FAULT:malformed", ("openai", "gemini", "openai-compatible"), "ok", None, 2),
    ("FAULT:malformed*inf", ("openai", "gemini"), "failed", "invalid_json", 2),
    ("FAULT:fenced", ("openai", "gemini"), "ok", None, 1),
    ("FAULT:empty", ("openai", "gemini", "openai-compatible"), "failed", "empty_response", 1),
    ("FAULT:safety", ("openai", "gemini"), "failed", "safety_block", 1),
    ("FAULT:promptblock", ("gemini",), "failed", "safety_block", 1),
    ("FAULT:thinking", ("gemini",), "ok", None, 2),
    ("FAULT:quota", ("openai",), "failed", "quota_exhausted", 1),
]
PARAMS = [
    pytest.param(backend, fault, status, reason, requests, id=f"{backend}-{fault.removeprefix('FAULT:')}")
    for fault, backends, status, reason, requests in CASES
    for backend in backends
]


@pytest.mark.parametrize(("backend", "fault", "status", "reason", "requests"), PARAMS)
def test_fault(stub, api_keys, tmp_path, backend, fault, status, reason, requests):
    stub.state.stall_s = 2.5
    samples = read_samples(write_samples(tmp_path / "model", [f"{GOLD_WORDS} {fault}"]))
    config = fast_config(None, settings=GenerationSettings(timeout_s=0.6))

    result = judge_samples(samples, stub_spec(stub, backend), config)

    (record,) = result.records
    assert record["status"] == status
    assert record["failure_reason"] == reason
    assert len(stub.log) == requests
    if status == "ok":
        assert record["raw_scores"]["overall"] >= 3
        assert 0.0 <= record["scores"]["overall"] <= 1.0
    else:
        assert record["scores"] is None
        assert record["failure_detail"]
    assert result.summary["failures"] == ({reason: 1} if reason else {})


def test_429_waits_for_retry_after(stub, api_keys, tmp_path):
    stub.state.retry_after = "1"
    samples = read_samples(write_samples(tmp_path / "model", [f"{GOLD_WORDS} FAULT:429"]))

    result = judge_samples(samples, stub_spec(stub, "openai"), fast_config(None))

    first, second = stub.log
    assert second.started - first.finished >= 1.0
    assert result.records[0]["calls"] == {"requests": 2, "cached": 0, "retries": 1}


def test_retry_after_beyond_limit_fails_at_once(stub, api_keys, tmp_path):
    stub.state.retry_after = "600"
    samples = read_samples(write_samples(tmp_path / "model", [f"{GOLD_WORDS} FAULT:429"]))

    result = judge_samples(samples, stub_spec(stub, "gemini"), fast_config(None))

    assert result.records[0]["failure_reason"] == "rate_limited"
    assert "more than the 5 s limit" in result.records[0]["failure_detail"]
    assert len(stub.log) == 1


def test_thinking_reply_retried_with_doubled_limit(stub, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", [f"{GOLD_WORDS} FAULT:thinking"]))

    result = judge_samples(samples, stub_spec(stub, "gemini"), fast_config(None))

    limits = [entry.body["generationConfig"]["maxOutputTokens"] for entry in stub.log]
    assert limits == [1024, 2048]
    assert result.records[0]["tokens"]["thinking"] == 1024


def test_failures_are_excluded_from_means(stub, api_keys, tmp_path):
    answers = [GOLD_WORDS, "FAULT:empty", "something unrelated", "FAULT:safety"]
    samples = read_samples(write_samples(tmp_path / "model", answers))

    result = judge_samples(samples, stub_spec(stub, "openai"), fast_config(None))

    counts = result.summary["counts"]
    assert (counts["items"], counts["scored"], counts["failed"]) == (4, 2, 2)
    scored = [record["scores"]["overall"] for record in result.records if record["status"] == "ok"]
    assert result.summary["means"]["overall"] == pytest.approx(sum(scored) / 2)
    assert result.summary["failures"] == {"empty_response": 1, "safety_block": 1}


def test_retry_budget_is_shared(stub, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", [f"{GOLD_WORDS} FAULT:500*inf {n}" for n in range(3)]))

    result = judge_samples(samples, stub_spec(stub, "openai"), fast_config(None, retry_budget=1, max_retries=3))

    reasons = sorted(record["failure_reason"] for record in result.records)
    assert reasons == ["retry_budget_exhausted"] * 3
    assert len(stub.log) == 4
    assert result.summary["retry_budget"] == {"total": 1, "used": 1}

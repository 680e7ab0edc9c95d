"""Runner behaviour against the stub: concurrency, caching, request parameters and key handling."""

import json
import logging

import pytest

from culturebench.errors import CultureBenchError
from culturebench.judges import JudgeSpec, judge_samples, read_results, read_samples, write_results
from tests.judges.conftest import ANSWERS, GEMINI_KEY, OPENAI_KEY, fast_config, stub_spec, write_samples


def test_concurrency_is_bounded(stub, api_keys, tmp_path):
    stub.state.latency_s = 0.05
    samples = read_samples(write_samples(tmp_path / "model", [f"answer {n}" for n in range(24)]))

    judge_samples(samples, stub_spec(stub, "openai"), fast_config(None, concurrency=3))

    assert len(stub.log) == 24
    assert stub.state.max_in_flight == 3


@pytest.mark.parametrize("backend", ["openai", "gemini", "openai-compatible"])
def test_warm_cache_makes_no_calls(stub, api_keys, tmp_path, backend):
    samples = read_samples(write_samples(tmp_path / "model", ANSWERS))
    config = fast_config(tmp_path / "cache")
    spec = stub_spec(stub, backend)

    cold = judge_samples(samples, spec, config)
    requests_after_cold = len(stub.log)
    warm = judge_samples(samples, spec, config)

    assert requests_after_cold == len(ANSWERS)
    assert len(stub.log) == requests_after_cold
    assert [record["scores"] for record in warm.records] == [record["scores"] for record in cold.records]
    assert warm.summary["counts"]["cached_calls"] == len(ANSWERS)
    assert warm.summary["counts"]["requests"] == 0
    assert warm.summary["billed_tokens"] == {"input": 0, "output": 0}
    assert warm.summary["tokens"] == cold.summary["tokens"]


def test_cache_keeps_repaired_conversation(stub, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", ["الفول FAULT:malformed"]))
    config = fast_config(tmp_path / "cache")

    judge_samples(samples, stub_spec(stub, "openai"), config)
    warm = judge_samples(samples, stub_spec(stub, "openai"), config)

    assert len(stub.log) == 2
    assert warm.records[0]["status"] == "ok"
    assert warm.records[0]["repaired"] is True
    assert warm.records[0]["calls"]["cached"] == 2


def test_identical_prompts_are_sent_once(stub, api_keys, tmp_path):
    stub.state.latency_s = 0.1
    (sample,) = read_samples(write_samples(tmp_path / "model", ["same answer"]))

    result = judge_samples([sample, sample], stub_spec(stub, "openai"), fast_config(None))

    assert len(stub.log) == 1
    assert [record["status"] for record in result.records] == ["ok", "ok"]


def test_openai_request_parameters(stub, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", ["answer"]))
    judge_samples(samples, stub_spec(stub, "openai"), fast_config(None))

    body = stub.log[0].body
    assert body["model"] == "gpt-4o-mini"
    assert body["max_completion_tokens"] == 1024
    assert "max_tokens" not in body
    assert body["temperature"] == 0.0
    assert body["response_format"] == {"type": "json_object"}
    assert [message["role"] for message in body["messages"]] == ["system", "user"]
    assert stub.log[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_reasoning_model_gets_no_temperature(stub, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", ["answer"]))
    result = judge_samples(samples, stub_spec(stub, "openai", "o4-mini"), fast_config(None))

    assert result.records[0]["status"] == "ok"
    assert len(stub.log) == 1
    assert "temperature" not in stub.log[0].body
    assert stub.log[0].body["max_completion_tokens"] == 1024


def test_temperature_rejection_is_resent_without_it(stub, api_keys, tmp_path):
    stub.state.reject_temperature_models = ("gpt-new",)
    samples = read_samples(write_samples(tmp_path / "model", ["answer one", "answer two"]))

    result = judge_samples(samples, stub_spec(stub, "openai", "gpt-new"), fast_config(None, concurrency=1))

    assert [record["status"] for record in result.records] == ["ok", "ok"]
    assert [entry.status for entry in stub.log] == [400, 200, 200]
    assert "temperature" not in stub.log[2].body


def test_compatible_server_parameters(stub, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", ["answer"]))
    judge_samples(samples, stub_spec(stub, "openai-compatible"), fast_config(None))

    body = stub.log[0].body
    assert body["max_tokens"] == 1024
    assert "response_format" not in body
    assert OPENAI_KEY not in stub.log[0].headers["authorization"]


def test_compatible_server_key_from_its_own_variable(stub, api_keys, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "local-key")
    samples = read_samples(write_samples(tmp_path / "model", ["answer"]))
    judge_samples(samples, stub_spec(stub, "openai-compatible"), fast_config(None))
    assert stub.log[0].headers["authorization"] == "Bearer local-key"


def test_gemini_request_parameters(stub, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", ["answer"]))
    judge_samples(samples, stub_spec(stub, "gemini"), fast_config(None))

    body = stub.log[0].body
    assert stub.log[0].path.endswith("/models/gemini-2.5-flash:generateContent")
    assert body["generationConfig"]["maxOutputTokens"] == 1024
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert "ANSWER TO GRADE" in body["contents"][0]["parts"][0]["text"]
    assert "Data fences" in body["systemInstruction"]["parts"][0]["text"]
    assert stub.log[0].headers["x-goog-api-key"] == GEMINI_KEY


@pytest.mark.parametrize(("backend", "variable"), [("openai", "OPENAI_API_KEY"), ("gemini", "GEMINI_API_KEY")])
def test_missing_key_is_a_clear_error(api_keys, monkeypatch, tmp_path, backend, variable):
    monkeypatch.delenv(variable)
    samples = read_samples(write_samples(tmp_path / "model", ["answer"]))
    with pytest.raises(CultureBenchError, match=variable):
        judge_samples(samples, JudgeSpec(backend, "m", "http://127.0.0.1:9"), fast_config(None))


@pytest.mark.parametrize("backend", ["openai", "gemini"])
def test_keys_stay_out_of_logs_cache_and_results(stub, api_keys, tmp_path, caplog, backend):
    caplog.set_level(logging.DEBUG)
    samples = read_samples(write_samples(tmp_path / "model", ANSWERS + ["FAULT:429", "FAULT:500"]))
    config = fast_config(tmp_path / "cache")

    result = judge_samples(samples, stub_spec(stub, backend), config)
    out = tmp_path / "model" / "judge.jsonl"
    write_results(result, out)

    written = "".join(path.read_text(encoding="utf-8") for path in (tmp_path / "cache").rglob("*") if path.is_file())
    written += out.read_text(encoding="utf-8") + (tmp_path / "model" / "judge.summary.json").read_text(encoding="utf-8")
    for key in (OPENAI_KEY, GEMINI_KEY):
        assert key not in caplog.text
        assert key not in written
        assert "SECRET" not in written


def test_results_join_back_to_samples(stub, api_keys, tmp_path):
    path = write_samples(tmp_path / "run" / "model", ANSWERS)
    result = judge_samples(read_samples(tmp_path / "run"), stub_spec(stub, "openai"), fast_config(None))
    out = tmp_path / "run" / "judge" / "results.jsonl"
    summary_file = write_results(result, out)

    samples = {json.loads(line)["doc_id"]: json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()}
    for record in read_results(out):
        assert (out.parent / record["samples_file"]).resolve() == path.resolve()
        assert record["task"] == "culture_arabic_nonloc_oe"
        assert record["doc_hash"] == samples[record["doc_id"]]["doc_hash"]
        assert record["country"] == samples[record["doc_id"]]["doc"]["country"]
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["kind"] == "judge_summary"
    assert summary["counts"]["items"] == len(ANSWERS)
    assert summary["cost_usd"] > 0

"""The local transformers judge, on a tiny random model saved to disk."""

import asyncio

import pytest

from culturebench.cli import main
from culturebench.errors import CultureBenchError
from culturebench.judges import GenerationSettings, JudgeSpec, judge_samples, read_results, read_samples
from culturebench.judges.backend import ChatRequest, Message
from culturebench.judges.hf_backend import TransformersBackend
from tests import tiny_models
from tests.judges.conftest import fast_config, write_samples

REQUEST = ChatRequest("Grade the answer.", (Message("user", "ماذا تأكل في الفطور؟"),), max_tokens=6)


def complete(backend, request=REQUEST):
    async def run():
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    return asyncio.run(run())


def test_generates_with_token_counts(tiny_model_dir):
    reply = complete(TransformersBackend(JudgeSpec("hf", str(tiny_model_dir)), GenerationSettings()))
    assert reply.input_tokens > 5
    assert 1 <= reply.output_tokens <= 6
    if reply.output_tokens == 6:
        assert (reply.finish_reason, reply.failure) == ("length", "output_truncated")


def test_chat_template_carries_system_prompt(tmp_path):
    model_dir = tiny_models.save_pretrained_dir(tmp_path / "chat", chat_template=True)
    backend = TransformersBackend(JudgeSpec("hf", str(model_dir)), GenerationSettings())
    backend._load()
    prompt = backend._tokenizer.decode(backend._encode(REQUEST)[0])
    assert prompt.index("<|system|>Grade the answer.") < prompt.index("<|user|>")
    assert prompt.endswith("<|assistant|>")


def test_plain_prompt_without_chat_template(tiny_model_dir):
    backend = TransformersBackend(JudgeSpec("hf", str(tiny_model_dir)), GenerationSettings())
    backend._load()
    prompt = backend._tokenizer.decode(backend._encode(REQUEST)[0], skip_special_tokens=True)
    assert prompt.startswith("System: Grade the answer.\n\nUser: ")
    assert prompt.endswith("Assistant:")


def test_missing_model_directory(tmp_path):
    backend = TransformersBackend(JudgeSpec("hf", str(tmp_path / "absent")), GenerationSettings())
    with pytest.raises(CultureBenchError, match="not found"):
        complete(backend)


def test_random_model_verdicts_are_recorded_as_failures(tiny_model_dir, api_keys, tmp_path):
    samples = read_samples(write_samples(tmp_path / "model", ["answer one", "answer two"]))
    config = fast_config(tmp_path / "cache", settings=GenerationSettings(max_tokens=8))

    result = judge_samples(samples, JudgeSpec("hf", str(tiny_model_dir)), config)

    assert [record["status"] for record in result.records] == ["failed", "failed"]
    assert {record["failure_reason"] for record in result.records} <= {"invalid_json", "output_truncated"}
    assert result.summary["cost_usd"] == 0.0
    assert result.summary["means"]["overall"] is None


def test_judge_command_with_local_model(tiny_model_dir, api_keys, tmp_path, capsys):
    path = write_samples(tmp_path / "model", ["answer"])
    out = tmp_path / "judge.jsonl"
    code = main(["judge", "--samples", str(path), "--judge", f"hf:{tiny_model_dir}", "--out", str(out),
                 "--max-tokens", "8", "--no-progress"])
    assert code == 2
    assert "scored none of 1 items" in capsys.readouterr().err
    assert read_results(out)[0]["judge"] == f"hf:{tiny_model_dir}"

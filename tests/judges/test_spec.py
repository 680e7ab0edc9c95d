import pytest

from culturebench.errors import CultureBenchError
from culturebench.judges import JudgeSpec, parse_spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openai:gpt-4o-mini", JudgeSpec("openai", "gpt-4o-mini")),
        ("gemini:gemini-2.5-flash", JudgeSpec("gemini", "gemini-2.5-flash")),
        ("hf:/models/judge", JudgeSpec("hf", "/models/judge")),
        (
            "openai-compatible:http://127.0.0.1:8000/v1:model-name",
            JudgeSpec("openai-compatible", "model-name", "http://127.0.0.1:8000/v1"),
        ),
        (
            "openai-compatible:http://localhost:11434/v1:llama3:8b",
            JudgeSpec("openai-compatible", "llama3:8b", "http://localhost:11434/v1"),
        ),
        ("openai-compatible:https://judge.internal:qwen", JudgeSpec("openai-compatible", "qwen", "https://judge.internal")),
    ],
)
def test_parse_spec_forms(text, expected):
    assert parse_spec(text) == expected


def test_spec_text_round_trips():
    for text in ("openai:gpt-4o-mini", "openai-compatible:http://127.0.0.1:8000/v1:m:1", "hf:/x"):
        assert parse_spec(text).text == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("anthropic:claude", "unknown backend 'anthropic'"),
        ("gpt-4o-mini", "unknown backend"),
        ("openai:", "the model is missing"),
        ("openai-compatible:qwen", "expected openai-compatible:URL:MODEL"),
        ("openai-compatible:http://127.0.0.1:8000/v1", "expected openai-compatible:URL:MODEL"),
    ],
)
def test_parse_spec_rejects_bad_specs(text, message):
    with pytest.raises(CultureBenchError, match=message) as error:
        parse_spec(text)
    assert "openai:MODEL" in str(error.value)

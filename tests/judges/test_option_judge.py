"""The MCQ fallback judge, alone and wired into answer extraction through culturebench.judging."""

import asyncio

import pytest

from culturebench import judging
from culturebench.extraction import extract_choice
from culturebench.judges import Backoff, LLMOptionJudge, option_judge_from_spec
from culturebench.judges.cache import default_cache_dir
from tests.judges.conftest import stub_spec

QUESTION = "What do you eat after the Friday prayer?"
OPTIONS = [
    "We eat ful medames with bread",
    "We eat kabsa with rice",
    "We eat couscous on Friday",
    "We eat a full English breakfast",
]
COUSCOUS = "Honestly my family always makes couscous after the Friday prayer, with seven vegetables."


@pytest.fixture
def compatible_spec(stub):
    return f"openai-compatible:{stub.openai_base_url}:qwen2.5-7b-instruct"


def test_pick_option_through_each_backend(stub, api_keys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", stub.openai_base_url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", stub.url)
    for spec in ("openai:gpt-4o-mini", "gemini:gemini-2.5-flash", f"openai-compatible:{stub.openai_base_url}:m"):
        judge = option_judge_from_spec(spec)
        try:
            assert judge.pick_option(QUESTION, OPTIONS, COUSCOUS) == 2
            assert judge.pick_option(QUESTION, OPTIONS, "I have no idea.") is None
        finally:
            judge.close()
    assert len(stub.log) == 6
    assert {entry.protocol for entry in stub.log} == {"openai", "gemini"}


def test_pick_option_uses_the_cache(stub, api_keys, compatible_spec):
    for _ in range(2):
        judge = option_judge_from_spec(compatible_spec)
        assert judge.pick_option(QUESTION, OPTIONS, COUSCOUS) == 2
        judge.close()
    assert len(stub.log) == 1
    assert any(default_cache_dir().glob("*.jsonl"))


def test_pick_option_failure_returns_none(stub, api_keys):
    judge = LLMOptionJudge(stub_spec(stub, "openai"), use_cache=False, max_retries=1,
                           backoff=Backoff(base_s=0.01, max_s=0.02))
    try:
        assert judge.pick_option(QUESTION, OPTIONS, f"{COUSCOUS} FAULT:500*inf") is None
        assert judge.pick_option(QUESTION, OPTIONS, f"{COUSCOUS} FAULT:malformed*inf") is None
    finally:
        judge.close()
    assert judge.failures == {"server_error": 1, "invalid_json": 1}


def test_pick_option_inside_running_event_loop(stub, api_keys, compatible_spec):
    judge = option_judge_from_spec(compatible_spec)

    async def caller():
        return judge.pick_option(QUESTION, OPTIONS, COUSCOUS)

    try:
        assert asyncio.run(caller()) == 2
    finally:
        judge.close()


def test_extraction_falls_back_to_registered_judge(stub, api_keys, monkeypatch, compatible_spec):
    monkeypatch.setenv(judging.JUDGE_ENV, compatible_spec)
    judging.set_option_judge_factory(option_judge_from_spec)
    try:
        extraction = extract_choice(COUSCOUS, OPTIONS, question=QUESTION)
        unresolved = extract_choice("I have no idea.", OPTIONS, question=QUESTION)
    finally:
        judging.get_option_judge().close()
        judging._factory = None
        judging._judges.clear()

    assert (extraction.index, extraction.method) == (2, "judge")
    assert unresolved.index is None
    assert len(stub.log) == 2


def test_plugin_factory_builds_this_judge(stub, api_keys, compatible_spec):
    from culturebench.plugin import option_judge_from_spec as plugin_factory

    judge = plugin_factory(compatible_spec)
    try:
        assert isinstance(judge, LLMOptionJudge)
        assert judge.pick_option(QUESTION, OPTIONS, COUSCOUS) == 2
    finally:
        judge.close()

import json

from culturebench.judges.backend import ChatReply, ChatRequest, Message
from culturebench.judges.cache import ResponseCache, cache_key
from culturebench.judges.rubrics import OPEN_ENDED, OPTION, Rubric
from culturebench.judges.spec import JudgeSpec

SPEC = JudgeSpec("openai", "gpt-4o-mini")
REQUEST = ChatRequest("system", (Message("user", "grade this"),), max_tokens=100)


def test_cache_round_trip(tmp_path):
    key = cache_key(SPEC, OPEN_ENDED, REQUEST)
    cache = ResponseCache(tmp_path, SPEC)
    cache.put(key, SPEC, OPEN_ENDED, REQUEST, ChatReply("{}", "stop", 10, 2))
    cache.close()

    reloaded = ResponseCache(tmp_path, SPEC)
    assert reloaded.get(key) == ChatReply("{}", "stop", 10, 2)


def test_cache_key_covers_judge_rubric_and_prompt():
    base = cache_key(SPEC, OPEN_ENDED, REQUEST)
    assert cache_key(JudgeSpec("openai", "gpt-4o"), OPEN_ENDED, REQUEST) != base
    assert cache_key(SPEC, Rubric("open_ended", "2", "open_ended_v1.j2"), REQUEST) != base
    assert cache_key(SPEC, OPTION, REQUEST) != base
    assert cache_key(SPEC, OPEN_ENDED, ChatRequest("system", (Message("user", "other"),), 100)) != base
    assert cache_key(SPEC, OPEN_ENDED, ChatRequest("system", REQUEST.messages, 200)) != base
    assert cache_key(SPEC, OPEN_ENDED, REQUEST) == base


def test_cache_skips_torn_last_line(tmp_path):
    key = cache_key(SPEC, OPEN_ENDED, REQUEST)
    cache = ResponseCache(tmp_path, SPEC)
    cache.put(key, SPEC, OPEN_ENDED, REQUEST, ChatReply("{}"))
    cache.close()
    with cache.path.open("ab") as handle:
        handle.write(b'{"key": "abc", "reply": {"te')

    reloaded = ResponseCache(tmp_path, SPEC)
    assert reloaded.skipped_lines == 1
    other = ChatRequest("system", (Message("user", "next"),), 100)
    reloaded.put(cache_key(SPEC, OPEN_ENDED, other), SPEC, OPEN_ENDED, other, ChatReply("[]"))
    reloaded.close()

    lines = cache.path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["reply"]["text"] == "[]"
    assert len(ResponseCache(tmp_path, SPEC).entries) == 2


def test_cache_files_are_per_judge(tmp_path):
    first = ResponseCache(tmp_path, SPEC)
    second = ResponseCache(tmp_path, JudgeSpec("openai-compatible", "m", "http://127.0.0.1:8000/v1"))
    assert first.path != second.path
    assert first.path.parent == second.path.parent


def test_cache_line_holds_no_prompt(tmp_path):
    cache = ResponseCache(tmp_path, SPEC)
    cache.put(cache_key(SPEC, OPEN_ENDED, REQUEST), SPEC, OPEN_ENDED, REQUEST, ChatReply("{}"))
    cache.close()
    record = json.loads(cache.path.read_text(encoding="utf-8"))
    assert set(record) == {"key", "judge", "rubric", "rubric_version", "prompt_hash", "time", "reply"}
    assert "grade this" not in cache.path.read_text(encoding="utf-8")

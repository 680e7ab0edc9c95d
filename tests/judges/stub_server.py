"""A judge model stub on 127.0.0.1 speaking the OpenAI chat-completions and Gemini generateContent formats.

The stub grades like a simple but naive judge, so tests can tell fenced data from instructions:
- It reads the fenced blocks (`<<<NAME id=X>>> ... <<<END NAME id=X>>>`, same id at both ends) and
  scores the ANSWER TO GRADE by word overlap with the REFERENCE ANSWER (overall = 1 + 4·Jaccard).
- It obeys "ignore previous instructions" written anywhere outside the fences by answering 5 on
  every criterion, so a fence that leaks would show up as a perfect score.
- For the option rubric it picks the option sharing most words with the ANSWER, or "none".

Faults are written into the graded answer as `FAULT:<kind>` or `FAULT:<kind>*<n>` (n times per
prompt, then normal; `*inf` forever). Kinds: 429 (Retry-After header), 500, stall (sleeps
`stall_s`), malformed (prose instead of JSON), fenced (the JSON inside a markdown fence), empty,
thinking (Gemini: no text and MAX_TOKENS while maxOutputTokens < 2048), safety (content filter /
SAFETY finish), promptblock (Gemini promptFeedback.blockReason), quota (OpenAI insufficient_quota).

A `responder` replaces the judging logic with scripted replies: it receives the system prompt and
the conversation turns and returns the reply text or a `StubReply`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FENCE = re.compile(r"<<<(?P<name>[A-Z ]+) id=(?P<id>[0-9a-f]+)>>>\n(?P<body>.*?)\n<<<END (?P=name) id=(?P=id)>>>", re.S)
FAULT = re.compile(r"FAULT:(?P<kind>[a-z0-9]+)(?:\*(?P<times>\d+|inf))?")
INJECTION = re.compile(r"ignore (all )?previous instructions", re.I)
GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^:]+):generateContent$")
THINKING_LIMIT = 2048


@dataclass
class LoggedRequest:
    """One request the stub received."""

    protocol: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    started: float
    finished: float = 0.0
    status: int = 0
    prompt_key: str = ""


@dataclass(frozen=True)
class StubReply:
    """A scripted reply: text, or a refusal (OpenAI's `refusal` field; Gemini writes it as text)."""

    text: str = ""
    refusal: str | None = None


Responder = Callable[[str, list[tuple[str, str]]], "str | StubReply"]


@dataclass
class StubState:
    latency_s: float = 0.0
    stall_s: float = 5.0
    retry_after: str = "1"
    reasoning_models: tuple[str, ...] = ("o4-mini",)
    reject_temperature_models: tuple[str, ...] = ()
    log: list[LoggedRequest] = field(default_factory=list)
    fault_counts: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    responder: Responder | None = None


class StubJudgeServer:
    """Run the stub in a background thread; use as a context manager."""

    def __init__(self, latency_s: float = 0.0, stall_s: float = 5.0, responder: Responder | None = None) -> None:
        self.state = StubState(latency_s=latency_s, stall_s=stall_s, responder=responder)
        handler = type("Handler", (_Handler,), {"state": self.state})
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self.server = server_class(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def log(self) -> list[LoggedRequest]:
        return self.state.log

    def __enter__(self) -> StubJudgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: StubState

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        headers = {key.lower(): value for key, value in self.headers.items()}
        gemini = GEMINI_PATH.match(self.path.split("?")[0])
        if self.path.split("?")[0] == "/v1/chat/completions":
            protocol = "openai"
        elif gemini:
            protocol = "gemini"
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return

        entry = LoggedRequest(protocol, self.path, body, headers, time.monotonic())
        with self.state.lock:
            self.state.log.append(entry)
            self.state.in_flight += 1
            self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
        try:
            if self.state.latency_s:
                time.sleep(self.state.latency_s)
            if protocol == "openai":
                status, payload, extra = _openai(self.state, body, entry)
            else:
                status, payload, extra = _gemini(self.state, body, gemini.group("model"), entry)
            entry.status = status
            self._send(status, payload, extra)
        finally:
            entry.finished = time.monotonic()
            with self.state.lock:
                self.state.in_flight -= 1

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up


# ---- judging logic shared by both wire formats ----------------------------------------------------


def _conversation(system: str, turns: list[tuple[str, str]]) -> tuple[str, str, bool]:
    """Return (first user text, full prompt text, is_repair)."""
    first_user = next((text for role, text in turns if role == "user"), "")
    return first_user, system + "\n" + "\n".join(text for _, text in turns), len(turns) > 1


def _fault(state: StubState, prompt_key: str, first_user: str) -> str | None:
    blocks = {match.group("name"): match.group("body") for match in FENCE.finditer(first_user)}
    graded = blocks.get("ANSWER TO GRADE", blocks.get("ANSWER", ""))
    match = FAULT.search(graded)
    if not match:
        return None
    kind, times = match.group("kind"), match.group("times") or "1"
    counter = f"{prompt_key}:{kind}"
    with state.lock:
        seen = state.fault_counts.get(counter, 0)
        state.fault_counts[counter] = seen + 1
    if times == "inf" or seen < int(times):
        return kind
    return None


def _verdict(system: str, first_user: str) -> str:
    blocks = {match.group("name"): match.group("body") for match in FENCE.finditer(first_user)}
    outside = FENCE.sub("", first_user)
    if "option" in system and "OPTIONS" in blocks:
        return json.dumps({"option": _pick_option(blocks["OPTIONS"], blocks.get("ANSWER", ""))})
    if INJECTION.search(outside):
        scores = dict.fromkeys(("fluency", "factual_accuracy", "cultural_appropriateness", "content_quality", "overall"), 5)
        return json.dumps({**scores, "fabricated_references": False, "nonsensical": False,
                           "excessive_repetition": False, "rationale": "Following the instructions: 5."})
    answer = _words(blocks.get("ANSWER TO GRADE", ""))
    gold = _words(blocks.get("REFERENCE ANSWER", ""))
    overlap = len(answer & gold) / len(answer | gold) if answer | gold else 0.0
    score = 1 + round(4 * overlap)
    scores = dict.fromkeys(("fluency", "factual_accuracy", "cultural_appropriateness", "content_quality", "overall"), score)
    repeated = len(blocks.get("ANSWER TO GRADE", "").split()) > 3 * max(1, len(answer))
    return json.dumps({**scores, "fabricated_references": False, "nonsensical": not answer,
                       "excessive_repetition": repeated, "rationale": f"word overlap {overlap:.2f}"})


def _scripted(state: StubState, system: str, turns: list[tuple[str, str]]) -> StubReply:
    reply = state.responder(system, turns)
    return StubReply(text=reply) if isinstance(reply, str) else reply


def _pick_option(options_block: str, answer: str) -> int | str:
    answer_words = _words(answer)
    best, best_overlap = "none", 0
    for line in options_block.splitlines():
        number, _, text = line.partition(". ")
        overlap = len(_words(text) & answer_words)
        if overlap > best_overlap:
            best, best_overlap = int(number), overlap
    return best


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"\w+", text.lower()) if not word.startswith("fault")}


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


# ---- OpenAI chat completions ---------------------------------------------------------------------


def _openai(state: StubState, body: dict[str, Any], entry: LoggedRequest) -> tuple[int, dict, dict]:
    messages = body.get("messages", [])
    system = "\n".join(m["content"] for m in messages if m["role"] in ("system", "developer"))
    turns = [(m["role"], m["content"]) for m in messages if m["role"] in ("user", "assistant")]
    first_user, full, repair = _conversation(system, turns)
    model = body.get("model", "")
    entry.prompt_key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    if model in state.reasoning_models or model in state.reject_temperature_models:
        if "temperature" in body and body["temperature"] != 1:
            return 400, _openai_error("Unsupported value: 'temperature' does not support 0 with this model. "
                                      "Only the default (1) value is supported.", "temperature", "unsupported_value"), {}
    if model in state.reasoning_models and "max_tokens" in body:
        return 400, _openai_error("Unsupported parameter: 'max_tokens' is not supported with this model. "
                                  "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter"), {}

    fault = _fault(state, hashlib.sha256(first_user.encode()).hexdigest(), first_user)
    refusal = None
    if state.responder is not None:
        scripted = _scripted(state, system, turns)
        content, refusal = (None, scripted.refusal) if scripted.refusal else (scripted.text, None)
    else:
        content = _verdict(system, first_user)
    finish = "stop"
    if fault == "429":
        return 429, _openai_error("Rate limit reached", None, "rate_limit_exceeded"), {"Retry-After": state.retry_after}
    if fault == "quota":
        return 429, _openai_error("You exceeded your current quota", None, "insufficient_quota"), {}
    if fault == "500":
        return 500, _openai_error("The server had an error", None, None), {}
    if fault == "stall":
        time.sleep(state.stall_s)
    if fault == "malformed":
        content = "Sure! The answer deserves a four on fluency and a three overall."
    if fault == "fenced":
        content = "```json\n" + content + "\n```"
    if fault == "empty":
        content = ""
    if fault == "safety":
        content, finish = None, "content_filter"

    completion_tokens = _tokens(content or "")
    return 200, {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": refusal},
                     "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": _tokens(full), "completion_tokens": completion_tokens,
                  "total_tokens": _tokens(full) + completion_tokens},
    }, {}


def _openai_error(message: str, param: str | None, code: str | None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


# ---- Gemini generateContent ----------------------------------------------------------------------


def _gemini(state: StubState, body: dict[str, Any], model: str, entry: LoggedRequest) -> tuple[int, dict, dict]:
    system = "\n".join(part.get("text", "") for part in (body.get("systemInstruction") or {}).get("parts", []))
    turns = [
        ("assistant" if content.get("role") == "model" else "user",
         "".join(part.get("text", "") for part in content.get("parts", [])))
        for content in body.get("contents", [])
    ]
    first_user, full, repair = _conversation(system, turns)
    config = body.get("generationConfig") or {}
    max_output = int(config.get("maxOutputTokens") or 8192)
    entry.prompt_key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    fault = _fault(state, hashlib.sha256(first_user.encode()).hexdigest(), first_user)
    if state.responder is not None:
        scripted = _scripted(state, system, turns)
        text: str | None = scripted.refusal or scripted.text
    else:
        text = _verdict(system, first_user)
    finish, thoughts = "STOP", 0
    if fault == "429":
        error = {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}
        return 429, error, {"Retry-After": state.retry_after}
    if fault == "500":
        return 500, {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}, {}
    if fault == "stall":
        time.sleep(state.stall_s)
    if fault == "malformed":
        text = "Sure! The answer deserves a four on fluency and a three overall."
    if fault == "fenced":
        text = "```json\n" + text + "\n```"
    if fault == "empty":
        text = ""
    if fault == "safety":
        text, finish = None, "SAFETY"
    if fault == "promptblock":
        usage = {"promptTokenCount": _tokens(full), "totalTokenCount": _tokens(full)}
        return 200, {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage, "modelVersion": model}, {}
    if "FAULT:thinking" in first_user and max_output < THINKING_LIMIT:
        text, finish, thoughts = None, "MAX_TOKENS", max_output

    candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    else:
        candidate["content"] = {"role": "model"}
    output_tokens = _tokens(text or "")
    usage = {"promptTokenCount": _tokens(full), "candidatesTokenCount": output_tokens,
             "totalTokenCount": _tokens(full) + output_tokens + thoughts}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return 200, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}, {}

"""Judge backend for a local transformers model: slow, but needs no network or key."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from culturebench.errors import CultureBenchError
from culturebench.judges.backend import EMPTY_RESPONSE, OUTPUT_TRUNCATED, ChatReply, ChatRequest
from culturebench.judges.spec import GenerationSettings, JudgeSpec

logger = logging.getLogger(__name__)


class TransformersBackend:
    """Greedy generation with `AutoModelForCausalLM`, one request at a time in a worker thread.

    `hf:PATH` takes a local model directory or a Hugging Face hub id; the model loads on the
    first request. A model without a chat template gets a plain `System:/User:/Assistant:` prompt.
    """

    def __init__(self, spec: JudgeSpec, settings: GenerationSettings) -> None:
        self.spec = spec
        self.settings = settings
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = asyncio.Lock()

    async def complete(self, request: ChatRequest) -> ChatReply:
        """Generate one reply; requests queue behind each other because one model serves them all."""
        async with self._lock:
            return await asyncio.to_thread(self._generate, request)

    async def aclose(self) -> None:
        self._model = None
        self._tokenizer = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = self.spec.model
        local = Path(source).expanduser()
        if local.is_dir():
            source = str(local)
        elif source.startswith((".", "/", "~")) or local.exists():
            raise CultureBenchError(f"judge model directory {source!r} not found; pass hf:/path/to/model/dir")
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
        except (OSError, ValueError) as error:
            raise CultureBenchError(
                f"could not load judge model {source!r}: {error}. Pass a local model directory "
                "(hf:/path/to/model), or make the Hugging Face hub reachable for a hub id"
            ) from error
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model = model.to(device).eval()
        self._tokenizer = tokenizer
        logger.info("loaded judge model %s on %s", source, device)

    def _generate(self, request: ChatRequest) -> ChatReply:
        import torch

        if self._model is None:
            self._load()
        input_ids = self._encode(request).to(self._model.device)
        with torch.no_grad():
            output = self._model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=request.max_tokens,
                do_sample=False,
                pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
            )
        new_tokens = output[0, input_ids.shape[1]:]
        text = self._tokenizer.decode(new_tokens, skip_special_tokens=True)

        reply = ChatReply(text=text, input_tokens=int(input_ids.shape[1]), output_tokens=int(new_tokens.shape[0]))
        eos_ids = self._model.generation_config.eos_token_id
        eos_ids = set(eos_ids if isinstance(eos_ids, list) else [eos_ids])
        stopped = new_tokens.shape[0] > 0 and int(new_tokens[-1]) in eos_ids
        reply.finish_reason = "stop" if stopped or new_tokens.shape[0] < request.max_tokens else "length"
        if reply.finish_reason == "length":
            reply.failure = OUTPUT_TRUNCATED
            reply.detail = f"output reached the token limit of {request.max_tokens}"
        elif not text.strip():
            reply.failure, reply.detail = EMPTY_RESPONSE, "the model generated no text"
        return reply

    def _encode(self, request: ChatRequest) -> Any:
        turns = [{"role": message.role, "content": message.content} for message in request.messages]
        if getattr(self._tokenizer, "chat_template", None):
            with_system = [{"role": "system", "content": request.system}] + turns
            try:
                return self._apply_template(with_system)
            except Exception as error:  # noqa: BLE001 - templates raise jinja2 errors for unsupported roles
                # Gemma's templates reject a system turn, so it goes into the first user turn instead.
                logger.debug("chat template rejected a system turn (%s); merging it into the user turn", error)
                merged = [dict(turn) for turn in turns]
                merged[0]["content"] = f"{request.system}\n\n{merged[0]['content']}"
                return self._apply_template(merged)
        lines = [f"System: {request.system}"]
        lines += [f"{turn['role'].capitalize()}: {turn['content']}" for turn in turns]
        lines.append("Assistant:")
        return self._tokenizer("\n\n".join(lines), return_tensors="pt").input_ids

    def _apply_template(self, turns: list[dict[str, str]]) -> Any:
        encoded = self._tokenizer.apply_chat_template(
            turns, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return encoded["input_ids"]

"""The unsteered model's own responses: batched cloze scores and greedy generations, cached on disk.

Preference pairs need the model's own behaviour: the wrong option it ranks highest (cloze) or
its greedy answer (generation). Both are computed in batches and appended to a jsonl cache,
one record per prompt, as soon as each batch finishes, so an interrupted run redoes at most
one batch. Records are keyed by a hash of the model, its dtype, the request and its settings,
so one cache file can serve several models.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from culturebench.prompts import encode_prompt
from culturebench.steering.extract import encode_example
from culturebench.steering.identity import model_id_of, model_revision_of
from culturebench.steering.jsonl_files import JsonlAppender, read_jsonl

logger = logging.getLogger(__name__)

# The stop sequences of the `culture_*` generation tasks, so training pairs end where evaluated answers end.
STOP_SEQUENCES = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "</s>")


class ResponseCache:
    """A jsonl cache of model responses keyed by request hash (in memory only when `path` is None)."""

    def __init__(self, path: str | Path | None, model: nn.Module) -> None:
        self.path = Path(path) if path is not None else None
        parameter = next(model.parameters())
        self.model_key = json.dumps([model_id_of(model), model_revision_of(model), str(parameter.dtype)])
        self.entries: dict[str, object] = {}
        if self.path is not None:
            for record in read_jsonl(self.path):
                if "key" in record and "value" in record:
                    self.entries[record["key"]] = record["value"]
            logger.info("read %d cached responses from %s", len(self.entries), self.path)

    def key(self, kind: str, request: object) -> str:
        payload = json.dumps([self.model_key, kind, request], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def store(self, values: dict[str, object]) -> None:
        self.entries.update(values)
        if self.path is None:
            return
        with JsonlAppender(self.path) as log:
            for key, value in values.items():
                log.append({"key": key, "value": value})


def score_continuations(model: nn.Module, tokenizer, requests: Sequence[tuple[str, Sequence[str]]], *,
                        cache: ResponseCache, batch_size: int = 8) -> list[list[float]]:
    """Return, per (prompt, continuations) request, the summed log-prob of each continuation.

    Tokenization follows lm-eval's log-likelihood requests. `batch_size` requests (all their
    continuations) share one forward, and only the positions that predict continuation tokens
    are projected through the vocabulary head.
    """
    keys = [cache.key("cloze", [prompt, list(continuations)]) for prompt, continuations in requests]
    missing = [index for index, key in enumerate(keys) if key not in cache.entries]
    progress = tqdm(total=len(missing), desc="scoring options", disable=None)
    for start in range(0, len(missing), batch_size):
        chunk = missing[start:start + batch_size]
        scores = _score_batch(model, tokenizer, [requests[index] for index in chunk])
        cache.store({keys[index]: values for index, values in zip(chunk, scores)})
        progress.update(len(chunk))
    progress.close()
    return [list(cache.entries[key]) for key in keys]


def _score_batch(model, tokenizer, requests) -> list[list[float]]:
    encoded = [encode_example(tokenizer, prompt, continuation)
               for prompt, continuations in requests for continuation in continuations]
    width = max(len(ids) for ids, _ in encoded)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    keep = torch.zeros_like(input_ids, dtype=torch.bool)
    for row, (ids, answer_start) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
        keep[row, answer_start - 1: len(ids) - 1] = True
    targets = input_ids[:, 1:][keep[:, :-1]]
    rows = keep.nonzero()[:, 0]

    device = next(model.parameters()).device
    with torch.no_grad():
        # A boolean `logits_to_keep` projects only the kept positions, flattened in row order.
        logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                       logits_to_keep=keep.to(device), use_cache=False).logits
        token_logps = torch.log_softmax(logits.float(), -1).gather(-1, targets.to(device).unsqueeze(-1)).squeeze(-1)
        sums = torch.zeros(len(encoded), device=device).index_add(0, rows.to(device), token_logps).cpu().tolist()

    scores, offset = [], 0
    for _, continuations in requests:
        scores.append(sums[offset:offset + len(continuations)])
        offset += len(continuations)
    return scores


def generate_greedy(model: nn.Module, tokenizer, prompts: Sequence[str], *, cache: ResponseCache,
                    max_new_tokens: int, batch_size: int = 8) -> list[str]:
    """Return the model's greedy continuation of each prompt, cut at the first stop sequence."""
    settings = {"max_new_tokens": max_new_tokens, "stop": list(STOP_SEQUENCES)}
    keys = [cache.key("greedy", [prompt, settings]) for prompt in prompts]
    missing = sorted({index for index, key in enumerate(keys) if key not in cache.entries},
                     key=lambda index: len(prompts[index]))
    device = next(model.parameters()).device
    progress = tqdm(total=len(missing), desc="generating rejected answers", disable=None)
    for start in range(0, len(missing), batch_size):
        chunk = missing[start:start + batch_size]
        texts = _generate_batch(model, tokenizer, [prompts[index] for index in chunk], max_new_tokens, device)
        cache.store({keys[index]: text for index, text in zip(chunk, texts)})
        progress.update(len(chunk))
    progress.close()
    return [str(cache.entries[key]) for key in keys]


def _generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int, device) -> list[str]:
    encoded = [encode_prompt(tokenizer, prompt) for prompt in prompts]
    width = max(len(ids) for ids in encoded)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for row, ids in enumerate(encoded):
        # Left padding, so every row's generated tokens start at the same position.
        input_ids[row, width - len(ids):] = torch.tensor(ids)
        attention_mask[row, width - len(ids):] = 1
    with torch.no_grad():
        output = model.generate(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                                max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id)
    texts = []
    for row in output[:, width:].tolist():
        text = tokenizer.decode(row, skip_special_tokens=False)
        texts.append(_cut(text, tokenizer))
    return texts


def _cut(text: str, tokenizer) -> str:
    stops = list(STOP_SEQUENCES)
    for token in (tokenizer.eos_token, tokenizer.pad_token):
        if token:
            stops.append(token)
    end = min((text.find(stop) for stop in stops if stop in text), default=len(text))
    return text[:end]

"""Judge every open-ended sample of an lm-eval run concurrently and write results and a summary."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from culturebench.atomic_files import atomic_open
from culturebench.errors import CultureBenchError
from culturebench.judges.backend import BACKEND_ERROR, MISSING_FIELDS, Backend
from culturebench.judges.backends import build_backend
from culturebench.judges.cache import ResponseCache, default_cache_dir
from culturebench.judges.client import JudgeClient, Usage, Verdict
from culturebench.judges.pricing import Prices, prices_for
from culturebench.judges.records import result_record, summarize
from culturebench.judges.retry import Backoff, RetryBudget, default_retry_budget
from culturebench.judges.rubrics import OPEN_ENDED, render_open_ended
from culturebench.judges.samples import Sample
from culturebench.judges.spec import GenerationSettings, JudgeSpec

logger = logging.getLogger(__name__)


@dataclass
class RunConfig:
    """How to run a judge over many samples.

    Args:
        concurrency: maximum number of requests in flight at once.
        max_retries: retries per request after a 429, 5xx, timeout or connection error.
        retry_budget: retries shared by the whole run; None means `default_retry_budget(items)`.
        cache_dir: where replies are cached; None means `default_cache_dir()`.
        use_cache: False sends every request and caches nothing.
        settings: token limit, temperature and timeout per request.
        backoff: wait policy between retries.
        prices: USD per million tokens for the cost estimate; None uses the built-in table.
        progress: show a progress bar on stderr.
    """

    concurrency: int = 8
    max_retries: int = 4
    retry_budget: int | None = None
    cache_dir: Path | None = None
    use_cache: bool = True
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    backoff: Backoff = field(default_factory=Backoff)
    prices: Prices | None = None
    progress: bool = True


@dataclass(repr=False)
class RunResult:
    """Per-item result records (in sample order) and the run summary."""

    records: list[dict[str, Any]]
    summary: dict[str, Any]

    def __repr__(self) -> str:
        # asyncio formats the finished task's result when it logs; thousands of records took milliseconds.
        return f"RunResult({len(self.records)} records, counts={self.summary.get('counts')})"


def judge_samples(samples: Sequence[Sample], spec: JudgeSpec, config: RunConfig | None = None) -> RunResult:
    """Judge the samples with `spec` and return records and summary (blocking wrapper)."""
    return asyncio.run(judge_samples_async(samples, spec, config or RunConfig()))


async def judge_samples_async(samples: Sequence[Sample], spec: JudgeSpec, config: RunConfig) -> RunResult:
    """Judge the samples concurrently; a failed item is recorded with its reason, never scored."""
    started = time.perf_counter()
    cache = ResponseCache(config.cache_dir or default_cache_dir(), spec) if config.use_cache else None
    budget = config.retry_budget if config.retry_budget is not None else default_retry_budget(len(samples))
    backend = build_backend(spec, config.settings)
    client = JudgeClient(
        backend,
        cache,
        concurrency=config.concurrency,
        max_retries=config.max_retries,
        retry_budget=RetryBudget(budget),
        backoff=config.backoff,
    )
    logger.info("judging %d samples with %s (concurrency %d, retry budget %d)",
                len(samples), spec.text, config.concurrency, budget)

    verdicts: list[Verdict | None] = [None] * len(samples)
    progress = tqdm(total=len(samples), desc=f"judge {spec.model}", unit="item", disable=not config.progress)
    try:
        tasks = [asyncio.create_task(_judge_one(client, index, sample)) for index, sample in enumerate(samples)]
        for finished in asyncio.as_completed(tasks):
            index, verdict = await finished
            verdicts[index] = verdict
            progress.update(1)
    finally:
        progress.close()
        await _close(backend, cache)

    records = [result_record(sample, spec, verdict) for sample, verdict in zip(samples, verdicts)]
    usages = [verdict.usage for verdict in verdicts]
    summary = summarize(records, usages, spec, prices_for(spec, config.prices), time.perf_counter() - started)
    summary["retry_budget"] = {"total": budget, "used": client.retry_budget.used}
    counts = summary["counts"]
    if counts["failed"]:
        logger.warning("%d of %d items failed: %s", counts["failed"], counts["items"], summary["failures"])
    return RunResult(records, summary)


async def _judge_one(client: JudgeClient, index: int, sample: Sample) -> tuple[int, Verdict]:
    if sample.missing_fields:
        detail = f"the sample's doc has no {' or '.join(sample.missing_fields)}"
        return index, Verdict(False, failure_reason=MISSING_FIELDS, failure_detail=detail, usage=Usage())
    system, user = render_open_ended(
        sample.question, sample.gold, sample.answer, sample.country, sample.variant, sample.language
    )
    try:
        return index, await client.judge(OPEN_ENDED, system, user)
    except CultureBenchError:
        raise
    except Exception as error:  # noqa: BLE001 - one item's unexpected SDK error must not lose a paid run
        logger.exception("judging %s doc %d failed unexpectedly", sample.task, sample.doc_id)
        detail = f"{type(error).__name__}: {error}"
        return index, Verdict(False, failure_reason=BACKEND_ERROR, failure_detail=detail, usage=Usage())


async def _close(backend: Backend, cache: ResponseCache | None) -> None:
    try:
        await backend.aclose()
    finally:
        if cache is not None:
            cache.close()


def summary_path(out: Path) -> Path:
    """Return where the summary of results file `out` goes: `<out without .jsonl>.summary.json`."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".summary.json")


def write_results(result: RunResult, out: Path) -> Path:
    """Write records to `out` (JSON lines) and the summary beside it, each atomically; return the summary path."""
    out = Path(out)
    lines = "".join(
        json.dumps({**record, "samples_file": _relative_to(record["samples_file"], out.parent)}, ensure_ascii=False)
        + "\n"
        for record in result.records
    )
    _write_atomic(out, lines)
    summary_file = summary_path(out)
    _write_atomic(summary_file, json.dumps(result.summary, ensure_ascii=False, indent=2) + "\n")
    return summary_file


def read_results(path: Path) -> list[dict[str, Any]]:
    """Read a results file written by `write_results`."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _relative_to(path: str, directory: Path) -> str:
    return os.path.relpath(Path(path).resolve(), Path(directory).resolve())


def _write_atomic(path: Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", fsync=False) as handle:
        handle.write(text)

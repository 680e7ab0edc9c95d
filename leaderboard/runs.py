"""Group result files into runs (one evaluated setting each) and join judge results to samples."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturebench.leaderboard.fields import as_text, method_label, method_rank, setting_rank, slugify
from culturebench.leaderboard.judge_output import JudgeRecord
from culturebench.leaderboard.lm_eval_output import ResultsFile, Sample, TaskOutput
from culturebench.leaderboard.provenance import build_provenance

logger = logging.getLogger(__name__)


@dataclass
class Run:
    """One evaluated setting: a method, its vector and model, and every task evaluated with them."""

    key: str
    directory: Path
    root: Path
    manifest: dict[str, Any]
    status: str
    notes: list[str]
    tasks: dict[str, TaskOutput]
    superseded: list[Path]
    provenance: dict[str, str | None]
    judge_summaries: list[dict[str, Any]] = field(default_factory=list)
    loose_judged: list[Sample] = field(default_factory=list)

    @property
    def method(self) -> str | None:
        return self.provenance.get("method")

    @property
    def setting(self) -> str | None:
        value = self.provenance.get("setting")
        return None if value == "not used" else value

    @property
    def label(self) -> str:
        parts = [method_label(self.method)]
        for key in ("setting", "country"):
            value = self.provenance.get(key)
            if value and value != "not used":
                parts.append(value)
        return " · ".join(parts)

    @property
    def short_label(self) -> str:
        """Method and vector country, for tables that show the setting in a column of its own."""
        country = self.provenance.get("country")
        if country and country != "not used":
            return f"{method_label(self.method)} · {country}"
        return method_label(self.method)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def samples(self) -> list[Sample]:
        """Return every sample of the run, tasks sorted by name, plus judged answers with no lm-eval sample."""
        collected = []
        for task in sorted(self.tasks):
            collected.extend(self.tasks[task].samples or [])
        collected.extend(self.loose_judged)
        return collected

    def sort_key(self) -> tuple:
        return (method_rank(self.method), setting_rank(self.setting), self.label, self.key)


@dataclass
class RunSources:
    """The files found for one run directory before they are read."""

    directory: Path
    root: Path
    manifest: dict[str, Any] | None = None
    manifest_problem: str | None = None
    results: list[ResultsFile] = field(default_factory=list)
    results_problems: list[str] = field(default_factory=list)
    judge_records: list[JudgeRecord] = field(default_factory=list)
    judge_summaries: list[dict[str, Any]] = field(default_factory=list)


def build_run(sources: RunSources, key: str) -> Run:
    """Choose the newest output per task, join judge results, and work out provenance and status."""
    manifest = sources.manifest or {}
    tasks, superseded = _newest_per_task(sources.results)
    notes = list(sources.results_problems)
    if sources.manifest_problem:
        notes.append(sources.manifest_problem)

    loose = _join_verdicts(tasks, sources.judge_records, as_text(manifest.get("judge")), notes)
    judges = sorted({r.verdict.judge for r in sources.judge_records if r.verdict.judge})
    newest = max(sources.results, key=lambda r: (r.date or 0.0, r.path.name)).data if sources.results else None
    has_open_ended = any(output.open_ended for output in tasks.values()) or bool(loose)
    provenance, provenance_notes = build_provenance(
        manifest,
        sources.directory if sources.manifest is not None else None,
        sources.directory,
        newest,
        judges,
        has_open_ended,
    )
    notes.extend(provenance_notes)
    status = _status(manifest, tasks, notes, unreadable=bool(sources.results_problems or sources.manifest_problem))
    return Run(
        key=key,
        directory=sources.directory,
        root=sources.root,
        manifest=manifest,
        status=status,
        notes=notes,
        tasks=tasks,
        superseded=superseded,
        provenance=provenance,
        judge_summaries=sources.judge_summaries,
        loose_judged=loose,
    )


def run_key(sources: RunSources, used_keys: set[str]) -> str:
    """Return a unique key for file names (see `slugify`): the manifest's `name`, else the path below the root."""
    name = as_text((sources.manifest or {}).get("name"))
    if name is None:
        parts = list(sources.directory.relative_to(sources.root).parts)
        # Drop the folder lm-eval names after the model unless it is the only part of the path.
        model_folders = {as_text(r.data.get("model_name_sanitized")) for r in sources.results}
        if len(parts) > 1 and parts[-1] in model_folders:
            parts.pop()
        name = "-".join(parts) if parts else sources.root.name
    base = slugify(name)
    key = base
    suffix = 2
    while key in used_keys:
        key = f"{base}-{suffix}"
        suffix += 1
    used_keys.add(key)
    return key


def _newest_per_task(results: list[ResultsFile]) -> tuple[dict[str, TaskOutput], list[Path]]:
    tasks: dict[str, TaskOutput] = {}
    superseded: set[Path] = set()
    for results_file in sorted(results, key=lambda r: (r.date or 0.0, r.path.name)):
        for task, output in results_file.tasks.items():
            if task in tasks:
                superseded.add(tasks[task].results_file)
            tasks[task] = output
    still_used = {output.results_file for output in tasks.values()}
    return dict(sorted(tasks.items())), sorted(superseded - still_used)


def _join_verdicts(
    tasks: dict[str, TaskOutput], records: list[JudgeRecord], preferred_judge: str | None, notes: list[str]
) -> list[Sample]:
    """Attach each judge verdict to its sample; returns judged answers that match no sample."""
    by_file: dict[tuple[Path, int], Sample] = {}
    by_task: dict[tuple[str, int], Sample] = {}
    for output in tasks.values():
        for sample in output.samples or []:
            by_task[(output.task, sample.doc_id)] = sample
            if output.samples_file is not None:
                by_file[(output.samples_file.resolve(), sample.doc_id)] = sample

    # The judge named in run.json wins when several judged the same answer; otherwise the first file.
    ordered = sorted(records, key=lambda r: (r.verdict.judge != preferred_judge, str(r.path)))
    loose: list[Sample] = []
    unmatched = 0
    duplicates = 0
    for record in ordered:
        sample = None
        if record.doc_id is not None:
            if record.samples_file is not None:
                sample = by_file.get((record.samples_file, record.doc_id))
            if sample is None and record.task is not None:
                sample = by_task.get((record.task, record.doc_id))
        if sample is None:
            if record.language and record.variant:
                loose.append(_sample_from_judge_record(record))
            else:
                unmatched += 1
            continue
        if sample.verdict is not None:
            duplicates += 1
            continue
        sample.verdict = record.verdict

    if unmatched:
        notes.append(f"{unmatched} judge result(s) match no lm-eval sample and carry no language/variant")
    if duplicates:
        notes.append(f"{duplicates} extra judge result(s) for already judged answers ignored")
    for output in tasks.values():
        if output.open_ended and output.samples and all(s.verdict is None for s in output.samples):
            notes.append(f"{output.task}: open-ended answers not judged (run `culturebench judge`)")
    return loose


def _sample_from_judge_record(record: JudgeRecord) -> Sample:
    return Sample(
        task=record.task or "judge",
        doc_id=record.doc_id if record.doc_id is not None else -1,
        language=record.language,
        country=record.country,
        variant=record.variant,
        item_id=None,
        question=None,
        options=[],
        answer=None,
        gold=None,
        response=None,
        correct=None,
        chosen=None,
        extraction_failed=False,
        open_ended=True,
        verdict=record.verdict,
    )


def _status(manifest: dict[str, Any], tasks: dict[str, TaskOutput], notes: list[str], unreadable: bool) -> str:
    """Return `ok`, `partial`, `failed` or the manifest's own word; add the reasons to `notes`."""
    status = as_text(manifest.get("status")) or "ok"
    error = as_text(manifest.get("error"))
    if error:
        notes.insert(0, error)
    if not tasks:
        notes.append("no lm-eval results found")
        return "failed" if status in ("ok", "failed") else status

    downgraded = unreadable
    for output in tasks.values():
        if output.n_effective is not None and output.n_original and output.n_effective < output.n_original:
            notes.append(f"{output.task}: evaluated {output.n_effective} of {output.n_original} documents (--limit)")
            downgraded = True
        if output.samples is None:
            notes.append(f"{output.task}: no samples file, so no confidence intervals or bias measures")
        notes.extend(f"{output.task}: {problem}" for problem in output.problems)
        downgraded = downgraded or bool(output.problems)
    if status == "ok" and downgraded:
        return "partial"
    return status

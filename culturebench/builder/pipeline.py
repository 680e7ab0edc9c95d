"""Run the seven builder stages in order, reusing every stage whose inputs have not changed."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from culturebench import __version__
from culturebench.builder.dedup import DedupSettings, normalize, remove_duplicates
from culturebench.builder.embeddings import EmbeddingModel
from culturebench.builder.experts import OPTION_WORDS, ask_experts, filter_existing
from culturebench.builder.generator import Generator, GeneratorConfig
from culturebench.builder.packaging import PackagingSettings, package_questions
from culturebench.builder.prompts import CONTROL, EXPERT, OPTIONS, VARIANTS
from culturebench.builder.records import Answer, Mcq, Variants
from culturebench.builder.seeds import SeedPlan, SeedQuestion, read_seeds
from culturebench.builder.splits import assemble_entries
from culturebench.builder.stages import Drop, StageOutput, StageStore, fingerprint, output_hash
from culturebench.builder.variants import write_variants
from culturebench.builder.writer import (
    check_output_folder,
    statistics_rows,
    validate_output,
    write_manifest,
    write_seed_files,
    write_statistics,
)
from culturebench.errors import CultureBenchError
from culturebench.items import Dataset
from culturebench.judges.spec import JudgeSpec, parse_spec

logger = logging.getLogger(__name__)

# Bump a stage's version when its logic changes, so that stored outputs of the old logic are not reused.
STAGE_VERSIONS = {
    "seeds": "1",
    "experts": "1",
    "existence": "1",
    "mcq": "1",
    "dedup": "1",
    "variants": "1",
    "splits": "1",
}


@dataclass
class BuildConfig:
    """Everything one build needs.

    Args:
        seeds: the seeds file (format in `culturebench.builder.seeds`).
        generator: a judge spec string or `JudgeSpec` for the generator model.
        out: the output folder.
        generation: concurrency, retries, token limit, timeout and reply cache of the generator.
        packaging: MCQ settings (minimum countries, length ratio); `seed` sets its shuffle seed.
        dedup: similarity thresholds and the optional embedding model; its minimum number of
            countries is taken from `packaging`.
        paraphrases: paraphrases requested per question form.
        test_fraction: expected share of seed questions in the test split.
        seed: the fixed seed of the option shuffle and of the split.
        force: run every stage again even when its stored output matches (replies still come from the cache).
    """

    seeds: Path
    generator: str | JudgeSpec
    out: Path
    generation: GeneratorConfig = field(default_factory=GeneratorConfig)
    packaging: PackagingSettings = field(default_factory=PackagingSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    paraphrases: int = 2
    test_fraction: float = 0.4
    seed: int = 0
    force: bool = False


@dataclass
class BuildResult:
    """The built dataset, its files, the report of every stage and the statistics table."""

    out: Path
    dataset: Dataset
    files: list[Path]
    stages: list[dict[str, Any]]
    statistics: list[dict[str, Any]]
    markdown: str


def build_dataset(config: BuildConfig) -> BuildResult:
    """Run every stage and write the dataset (blocking wrapper of `build_dataset_async`)."""
    return asyncio.run(build_dataset_async(config))


async def build_dataset_async(config: BuildConfig) -> BuildResult:
    """Run the stages, write the seed files, validate them and write the statistics."""
    started = time.perf_counter()
    _check_settings(config)
    plan = read_seeds(config.seeds)
    out = Path(config.out)
    check_output_folder(out)
    spec = parse_spec(config.generator) if isinstance(config.generator, str) else config.generator
    generator = Generator(spec, config.generation)
    runner = _StageRunner(StageStore(out), plan.digest, config.force)
    llm = {
        "generator": spec.text,
        "max_tokens": config.generation.settings.max_tokens,
        "temperature": config.generation.settings.temperature,
    }
    try:
        entries = await _run_stages(config, plan, generator, runner, llm)
    finally:
        await generator.aclose()

    if not entries:
        raise CultureBenchError(f"no items survived the build; {_drop_summary(runner.reports)}. See {out / 'stages'}")
    header = _header(plan, spec)
    files = write_seed_files(plan, entries, out, header)
    dataset = validate_output(out)
    rows = statistics_rows(dataset)
    markdown = write_statistics(rows, runner.reports, out)
    write_manifest(out, _manifest(config, plan, spec, files, dataset, runner.reports, time.perf_counter() - started))
    logger.info("wrote %d items to %s in %.1f s", len(dataset), out, time.perf_counter() - started)
    return BuildResult(out, dataset, files, runner.reports, rows, markdown)


async def _run_stages(config: BuildConfig, plan: SeedPlan, generator: Generator, runner: _StageRunner,
                      llm: dict[str, Any]) -> list[dict[str, Any]]:
    seeds = await runner.run(1, "seeds", {}, lambda: select_seeds(plan))
    questions = [SeedQuestion(**record) for record in seeds.records]

    settings = {**llm, "prompts": [EXPERT.label, CONTROL.label], "option_words": OPTION_WORDS}
    experts = await runner.run(2, "experts", settings, lambda: ask_experts(plan, questions, generator))
    answers = [Answer(**record) for record in experts.records]

    existing = await runner.run(3, "existence", {}, lambda: filter_existing(answers))
    applicable = [Answer(**record) for record in existing.records]

    packaging = replace(config.packaging, shuffle_seed=config.seed)
    settings = {**llm, "prompts": [OPTIONS.label], **asdict(packaging)}
    packaged = await runner.run(4, "mcq", settings,
                                lambda: package_questions(plan, questions, applicable, generator, packaging))
    mcqs = [Mcq(**record) for record in packaged.records]

    dedup = replace(config.dedup, min_countries=config.packaging.min_countries)
    deduplicated = await runner.run(5, "dedup", asdict(dedup), lambda: _deduplicate(mcqs, dedup))
    mcqs = [Mcq(**record) for record in deduplicated.records]

    settings = {**llm, "prompts": [VARIANTS.label], "paraphrases": config.paraphrases,
                "question_similarity": dedup.question_similarity}
    written = await runner.run(6, "variants", settings, lambda: write_variants(
        plan, mcqs, generator, config.paraphrases, dedup.question_similarity))
    variants = [Variants(**record) for record in written.records]

    settings = {"test_fraction": config.test_fraction, "seed": config.seed, "source": plan.source}
    splits = await runner.run(7, "splits", settings,
                              lambda: assemble_entries(plan, mcqs, variants, config.test_fraction, config.seed))
    return splits.records


def select_seeds(plan: SeedPlan) -> StageOutput:
    """Stage 1: keep the seed questions, dropping exact repeats of a scenario (after normalisation)."""
    first_of: dict[str, str] = {}
    records, drops = [], []
    for question in plan.questions:
        text = normalize(question.scenario)
        if text in first_of:
            drops.append(Drop(question.id, "duplicate_scenario", f"same scenario as seed {first_of[text]!r}"))
            continue
        first_of[text] = question.id
        records.append(asdict(question))
    return StageOutput(records, drops)


def _deduplicate(mcqs: list[Mcq], settings: DedupSettings) -> StageOutput:
    embed = EmbeddingModel(settings.embedding_model).similarity if settings.embedding_model else None
    return remove_duplicates(mcqs, settings, embed)


class _StageRunner:
    """Runs or reuses stages in order; each stage's fingerprint covers the previous stage's output."""

    def __init__(self, store: StageStore, plan_digest: str, force: bool) -> None:
        self.store = store
        self.plan_digest = plan_digest
        self.force = force
        self.previous_hash = ""
        self.reports: list[dict[str, Any]] = []

    async def run(self, number: int, name: str, settings: dict[str, Any],
                  produce: Callable[[], StageOutput | Awaitable[StageOutput]]) -> StageOutput:
        stage_fingerprint = fingerprint(name, STAGE_VERSIONS[name], settings, f"{self.plan_digest}:{self.previous_hash}")
        stored = None if self.force else self.store.load(number, name, stage_fingerprint)
        if stored is not None:
            output, report = stored
            logger.info("stage %d %s: reused (kept %d, dropped %d)", number, name, report["kept"], report["dropped"])
        else:
            started = time.perf_counter()
            result = produce()
            output = await result if inspect.isawaitable(result) else result
            report = self.store.save(number, name, stage_fingerprint, output)
            logger.info("stage %d %s: kept %d, dropped %d %s in %.1f s", number, name, report["kept"],
                        report["dropped"], report["dropped_by_reason"] or "", time.perf_counter() - started)
        self.previous_hash = output_hash(report)
        self.reports.append({**{key: value for key, value in report.items() if key != "drops"},
                             "reused": stored is not None})
        return output


def _check_settings(config: BuildConfig) -> None:
    if not 0.0 <= config.test_fraction <= 1.0:
        raise CultureBenchError(f"the test fraction must be from 0 to 1, got {config.test_fraction}")
    if config.paraphrases < 0:
        raise CultureBenchError(f"the number of paraphrases must be 0 or more, got {config.paraphrases}")
    if config.packaging.min_countries < 1:
        raise CultureBenchError(f"the minimum number of countries must be at least 1, got {config.packaging.min_countries}")
    if config.packaging.max_length_ratio < 1.0:
        raise CultureBenchError(f"the maximum option length ratio must be at least 1, got {config.packaging.max_length_ratio}")


def _drop_summary(reports: list[dict[str, Any]]) -> str:
    parts = [
        f"stage {report['number']} {report['stage']} dropped {report['dropped']} ({report['dropped_by_reason']})"
        for report in reports
        if report["dropped"]
    ]
    return "; ".join(parts) or "no stage dropped anything, but the seeds file produced no questions"


def _header(plan: SeedPlan, spec: JudgeSpec) -> str:
    prompts = ", ".join(template.label for template in (EXPERT, CONTROL, OPTIONS, VARIANTS))
    return (
        f"# Seeds: {plan.path.name} (sha256 {plan.digest[:12]}); generator: {spec.text}; prompts: {prompts}.\n"
        "# Rebuilding overwrites this file, so edit the seeds, not this file.\n"
    )


def _manifest(config: BuildConfig, plan: SeedPlan, spec: JudgeSpec, files: list[Path], dataset: Dataset,
              reports: list[dict[str, Any]], elapsed_s: float) -> dict[str, Any]:
    return {
        "kind": "culturebench_build",
        "culturebench_version": __version__,
        "seeds": str(plan.path),
        "seeds_sha256": plan.digest,
        "generator": spec.text,
        "prompts": [template.label for template in (EXPERT, CONTROL, OPTIONS, VARIANTS)],
        "settings": {
            "packaging": asdict(config.packaging),
            "dedup": {key: str(value) if isinstance(value, Path) else value for key, value in asdict(config.dedup).items()},
            "paraphrases": config.paraphrases,
            "test_fraction": config.test_fraction,
            "seed": config.seed,
        },
        "files": [path.name for path in files],
        "items": len(dataset),
        "stages": reports,
        "elapsed_s": round(elapsed_s, 3),
    }

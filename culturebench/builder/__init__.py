"""Grow the benchmark: LLM country experts, an existence filter, MCQ packaging, dedup and question variants.

Example:
    >>> from culturebench.builder import BuildConfig, build_dataset
    >>> result = build_dataset(BuildConfig("seeds.yaml", "openai:gpt-4o-mini", "built/"))
    >>> print(result.markdown)
"""

from culturebench.builder.dedup import DedupSettings
from culturebench.builder.generator import GeneratorConfig
from culturebench.builder.packaging import PackagingSettings
from culturebench.builder.pipeline import BuildConfig, BuildResult, build_dataset, build_dataset_async
from culturebench.builder.seeds import SeedPlan, SeedQuestion, read_seeds

__all__ = [
    "BuildConfig",
    "BuildResult",
    "DedupSettings",
    "GeneratorConfig",
    "PackagingSettings",
    "SeedPlan",
    "SeedQuestion",
    "build_dataset",
    "build_dataset_async",
    "read_seeds",
]

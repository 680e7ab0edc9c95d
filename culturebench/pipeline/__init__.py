"""`culturebench run`: the end-to-end study (pairs, vectors, lm-eval evaluation, judge, metrics, leaderboard)."""

from culturebench.pipeline.config import RunConfig, load_config, render_config
from culturebench.pipeline.runner import RunReport, run_pipeline

__all__ = ["RunConfig", "RunReport", "load_config", "render_config", "run_pipeline"]

"""LLM judges for open-ended answers and the MCQ fallback (OpenAI, Gemini, OpenAI-compatible, local).

Example:
    >>> from culturebench.judges import parse_spec, read_samples, judge_samples, write_results
    >>> result = judge_samples(read_samples("runs/x"), parse_spec("gemini:gemini-2.5-flash"))
    >>> write_results(result, "runs/x/judge.jsonl")
"""

from culturebench.judges.option_judge import LLMOptionJudge, option_judge_from_spec
from culturebench.judges.pricing import Prices
from culturebench.judges.retry import Backoff
from culturebench.judges.rubrics import CRITERIA, FLAGS, OPEN_ENDED, OPTION
from culturebench.judges.runner import (
    RunConfig,
    RunResult,
    judge_samples,
    judge_samples_async,
    read_results,
    summary_path,
    write_results,
)
from culturebench.judges.samples import Sample, read_samples
from culturebench.judges.spec import GenerationSettings, JudgeSpec, parse_spec

__all__ = [
    "CRITERIA",
    "FLAGS",
    "OPEN_ENDED",
    "OPTION",
    "Backoff",
    "GenerationSettings",
    "JudgeSpec",
    "LLMOptionJudge",
    "Prices",
    "RunConfig",
    "RunResult",
    "Sample",
    "judge_samples",
    "judge_samples_async",
    "option_judge_from_spec",
    "parse_spec",
    "read_results",
    "read_samples",
    "summary_path",
    "write_results",
]

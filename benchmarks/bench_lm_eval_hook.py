"""Measure what culturebench's lm-eval start-up hook costs an interpreter that never uses lm-eval.

Three numbers, all from this run:
1. wall time of `python -c pass` with the hook against the same command with
   CULTUREBENCH_LM_EVAL_HOOK=0 (alternating runs, medians, difference and ratio);
2. the self import time of `culturebench` and `culturebench.plugin` from `python -X importtime`
   (without a bytecode cache, for example under PYTHONDONTWRITEBYTECODE=1 on a fresh checkout,
   this includes compiling the source);
3. the cost of the hook's `find_spec` for a module it ignores, times the number of modules that
   `import lm_eval.evaluator` loads, which bounds the hook's share of lm-eval's own imports.

Usage: .venv/bin/python benchmarks/bench_lm_eval_hook.py [--runs 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit

HOOK_ENV = "CULTUREBENCH_LM_EVAL_HOOK"


def startup_seconds(enabled: bool) -> float:
    env = {**os.environ, HOOK_ENV: "1" if enabled else "0"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def culturebench_import_microseconds(compile_source: bool) -> int:
    """Return the summed self time of the culturebench modules imported at start-up.

    With `compile_source`, an empty bytecode cache folder and PYTHONDONTWRITEBYTECODE=1 make
    Python compile the source on every start.
    """
    with tempfile.TemporaryDirectory(prefix="empty-pycache-") as empty_cache:
        env = dict(os.environ)
        if compile_source:
            env.update(PYTHONPYCACHEPREFIX=empty_cache, PYTHONDONTWRITEBYTECODE="1")
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True, check=True, env=env
        )
    total = 0
    for line in result.stderr.splitlines():
        # Lines read "import time: <self us> | <cumulative us> | <indented module name>".
        self_time, _, name = line.split("|")
        if name.strip().startswith("culturebench"):
            total += int(self_time.split(":")[1])
    return total


def bytecode_cached() -> bool:
    import importlib.util

    import culturebench.plugin

    return os.path.exists(importlib.util.cache_from_source(culturebench.plugin.__file__))


def lm_eval_module_count() -> int:
    code = "import sys; before = len(sys.modules); import lm_eval.evaluator; print(len(sys.modules) - before)"
    env = {**os.environ, HOOK_ENV: "0"}
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="interpreter starts per variant (default 60)")
    args = parser.parse_args()

    startup_seconds(True)  # warm the file system cache
    with_hook, without_hook = [], []
    for _ in range(args.runs):
        with_hook.append(startup_seconds(True))
        without_hook.append(startup_seconds(False))
    median_with = statistics.median(with_hook)
    median_without = statistics.median(without_hook)

    from culturebench.plugin import LmEvalImportHook

    hook = LmEvalImportHook()
    calls = 1_000_000
    find_spec_ns = timeit.timeit(lambda: hook.find_spec("some.unrelated.module"), number=calls) / calls * 1e9
    modules = lm_eval_module_count()

    print(f"python -c pass, median of {args.runs}: with hook {median_with * 1e3:.2f} ms, "
          f"without {median_without * 1e3:.2f} ms")
    print(f"difference {(median_with - median_without) * 1e3:+.2f} ms, ratio with/without {median_with / median_without:.3f}")
    cached = [culturebench_import_microseconds(compile_source=False) for _ in range(args.runs)]
    compiled = [culturebench_import_microseconds(compile_source=True) for _ in range(args.runs)]
    print(f"-X importtime, self time of culturebench + culturebench.plugin, median of {args.runs}: "
          f"{statistics.median(cached) / 1e3:.2f} ms from bytecode (cache present: {bytecode_cached()}), "
          f"{statistics.median(compiled) / 1e3:.2f} ms compiling the source")
    print(f"find_spec on an ignored module: {find_spec_ns:.0f} ns; import lm_eval.evaluator loads {modules} modules, "
          f"so at most {find_spec_ns * modules / 1e6:.2f} ms of hook time there")


if __name__ == "__main__":
    main()

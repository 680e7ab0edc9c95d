"""Time the first load of the default model (GGUF dequantisation + cache build) against the second.

The first load runs with an empty cache folder, so it assembles the GGUF, dequantises it, converts
the tokenizer and writes the HF-format copy. The second load reads that copy. Both loads run in
fresh processes so no Python-level state is shared. Each process imports torch and transformers
first and then times `load_model` alone, so interpreter start-up is not counted. Prints both
times and their ratio.

Usage:
    python benchmarks/bench_model_load.py [--model default]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

LOAD = (
    "import time, transformers, torch\n"
    "from culturebench.models import load_model\n"
    "started = time.perf_counter()\n"
    "load_model({model!r}, device='cpu')\n"
    "print(time.perf_counter() - started)\n"
)


def timed_load(model: str, cache: str) -> float:
    """Return the seconds `load_model` took in a fresh process using `cache` as the cache folder."""
    env = dict(os.environ, CULTUREBENCH_CACHE=cache)
    completed = subprocess.run([sys.executable, "-c", LOAD.format(model=model)], env=env, check=True,
                               capture_output=True, text=True)
    return float(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="offline preset to load")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="culturebench-bench-") as cache:
        first = timed_load(args.model, cache)
        second = timed_load(args.model, cache)
    print(f"model={args.model} first_load_s={first:.1f} second_load_s={second:.1f} ratio={first / second:.1f}x")


if __name__ == "__main__":
    main()

"""Time the first load of the default model (GGUF dequantisation + cache build) against the second.

The first load runs with an empty cache folder, so it assembles the GGUF, dequantises it, converts
the tokenizer and writes the HF-format copy. The second load reads that copy. Both loads run in
fresh processes so no Python-level state is shared. Prints both times and their ratio.

Usage:
    python benchmarks/bench_model_load.py [--model default]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

LOAD = "from culturebench.models import load_model; load_model({model!r}, device='cpu')"


def timed_load(model: str, cache: str) -> float:
    env = dict(os.environ, CULTUREBENCH_CACHE=cache)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", LOAD.format(model=model)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


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

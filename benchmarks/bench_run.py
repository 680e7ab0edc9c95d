"""Benchmark `culturebench run`: wall time, CPU time and peak memory of a first run and of a repeat.

    .venv/bin/python benchmarks/bench_run.py --out runs/bench-default            # the default (make demo)
    .venv/bin/python benchmarks/bench_run.py --out /tmp/bench-quick -- --quick   # the CI profile

Everything after `--` is passed to `culturebench run`. The run directory must not exist (the first
run has to compute every stage). Each run is a child process: its wall time, its CPU time (user +
system, from `getrusage` of the children) and its peak resident memory are measured. Prints each
stage's wall time from `state/last-run.json`, then the repeat ÷ first-run wall-time ratio. On a
shared machine, wall time depends on other jobs; the CPU time and the load average are printed
beside it to judge that.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="run directory (must not exist)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory afterwards")
    parser.add_argument("run_args", nargs="*", help="extra `culturebench run` arguments, after --")
    return parser.parse_args()


def timed_run(command: list[str]) -> dict:
    """Run `command` as a child process; return wall seconds, CPU seconds and peak RSS of that child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed with exit status {completed.returncode}")
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        # ru_maxrss of RUSAGE_CHILDREN is the largest child so far, in KiB on Linux.
        "peak_rss_gib": after.ru_maxrss / 2**20,
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "stdout": completed.stdout,
    }


def main() -> int:
    arguments = parse_arguments()
    if arguments.out.exists():
        sys.exit(f"{arguments.out} exists; pass a new run directory so the first run computes every stage")
    executable = str(Path(sys.executable).with_name("culturebench"))
    command = [executable, "run", "--out", str(arguments.out), *arguments.run_args]

    first = timed_run(command)
    stages = json.loads((arguments.out / "state" / "last-run.json").read_text(encoding="utf-8"))["stages"]
    repeat = timed_run(command)
    print(first["stdout"])
    print(f"command: {' '.join(command)}")
    print(f"first run: wall {first['wall_s']:.0f} s, CPU {first['cpu_s']:.0f} s, peak RSS "
          f"{first['peak_rss_gib']:.2f} GiB, load average {first['load_before']:.1f} before, "
          f"{first['load_after']:.1f} after")
    for stage in stages:
        print(f"  {stage['name']:<9} {stage['seconds']:7.1f} s  ({len(stage['computed'])} computed)")
    print(f"repeat: wall {repeat['wall_s']:.1f} s, CPU {repeat['cpu_s']:.1f} s")
    print(f"repeat / first wall time: {repeat['wall_s'] / first['wall_s']:.4f}")
    if not arguments.keep:
        shutil.rmtree(arguments.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

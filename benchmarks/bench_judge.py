"""Benchmark `culturebench judge` against the local stub: cold requests/s and warm-cache cost.

Run from the repository root:

    .venv/bin/python benchmarks/bench_judge.py [--items 400] [--concurrency 16] [--latency 0]

The stub judge server runs in a child process (so it does not share the client's GIL) on
127.0.0.1 and replies in the OpenAI chat-completions wire format. The client is the real
`openai` SDK. The cold run starts with an empty cache, so every item is one HTTP request; the warm
run repeats it with the filled cache (median of several runs). Both times cover the whole `judge_samples` call, including
template rendering, hashing, and loading the cache.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from culturebench.judges import JudgeSpec, RunConfig, judge_samples, read_samples  # noqa: E402
from tests.judges.conftest import write_samples  # noqa: E402
from tests.judges.stub_server import StubJudgeServer  # noqa: E402


def serve(latency_s: float, port_pipe, stop_event) -> None:
    with StubJudgeServer(latency_s=latency_s) as stub:
        port_pipe.send(stub.server.server_address[1])
        stop_event.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400, help="samples to judge (default 400)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--latency", type=float, default=0.0, help="stub reply delay in seconds (default 0)")
    parser.add_argument("--warm-repeats", type=int, default=5, help="warm runs; the median is reported (default 5)")
    args = parser.parse_args()

    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-placeholder")
    receiver, sender = multiprocessing.Pipe(duplex=False)
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.latency, sender, stop), daemon=True)
    server.start()
    port = receiver.recv()

    with tempfile.TemporaryDirectory() as folder:
        samples = read_samples(write_samples(Path(folder) / "model", [f"answer {n}" for n in range(args.items)]))
        spec = JudgeSpec("openai", "gpt-4o-mini", f"http://127.0.0.1:{port}/v1")
        config = RunConfig(concurrency=args.concurrency, cache_dir=Path(folder) / "cache", progress=False)

        started = time.perf_counter()
        cold = judge_samples(samples, spec, config)
        cold_s = time.perf_counter() - started
        warm_times = []
        for _ in range(args.warm_repeats):
            started = time.perf_counter()
            warm = judge_samples(samples, spec, config)
            warm_times.append(time.perf_counter() - started)
        warm_s = statistics.median(warm_times)

    stop.set()
    server.join(timeout=5)
    requests = cold.summary["counts"]["requests"]
    assert cold.summary["counts"]["scored"] == args.items, cold.summary["failures"]
    assert warm.summary["counts"]["requests"] == 0

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"items {args.items}, concurrency {args.concurrency}, stub latency {args.latency * 1000:.0f} ms")
    print(f"cold run: {cold_s:.3f} s, {requests} requests, {requests / cold_s:.1f} requests/s")
    print(f"warm run: {warm_s:.4f} s median of {args.warm_repeats} (min {min(warm_times):.4f}, max {max(warm_times):.4f}), 0 requests")
    print(f"warm / cold: {warm_s / cold_s:.4f}")


if __name__ == "__main__":
    main()

"""Benchmark `culturebench build-dataset` against the local stub, and the near-duplicate pass alone.

Run from the repository root:

    .venv/bin/python benchmarks/bench_builder.py [--seeds 40] [--concurrency 8] [--dedup-texts 2000]

The stub runs in a child process on 127.0.0.1 and answers every builder prompt in the OpenAI
wire format with valid, distinct replies. The cold build starts with an empty reply cache. The
reused build runs again on the same folder, where every stage is reused. The forced build
reruns every stage with `force=True`, so its requests are all answered from the reply cache.
The dedup timing is `remove_duplicates` over synthetic MCQs whose scenarios are all distinct.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from culturebench.builder import BuildConfig, GeneratorConfig, build_dataset  # noqa: E402
from culturebench.builder.dedup import DedupSettings, remove_duplicates  # noqa: E402
from culturebench.builder.records import Mcq  # noqa: E402
from culturebench.judges import JudgeSpec  # noqa: E402
from tests.judges.stub_server import StubJudgeServer  # noqa: E402

OPTIONS = {"usa": "A bowl of cereal", "uk": "Beans on buttered toast", "australia": "Vegemite on toast",
           "western": "A croissant and coffee"}
LOCAL_NAMES = {"usa": "the US", "uk": "the UK", "australia": "Australia"}
WORDS = ("breakfast", "lunch", "dinner", "tea", "snacks", "weddings", "funerals", "birthdays", "holidays", "markets")


def respond(system: str, turns: list[tuple[str, str]]) -> str:
    task = json.loads(turns[0][1].split("Input:", 1)[1])
    if task["task"] == "western_control":
        return json.dumps({"answer": "Western answer.", "option": OPTIONS["western"]})
    if task["task"] == "country_expert":
        return json.dumps({"applies": True, "reason": "Common.", "answer": "Answer.", "option": OPTIONS[task["country"]]})
    if task["task"] == "edit_options":
        return json.dumps({"options": task["options"]})
    return json.dumps({
        "localized": f"I live in {LOCAL_NAMES[task['country']]}. {task['scenario']}",
        "nonlocalized": task["scenario"],
        "localized_paraphrases": [], "nonlocalized_paraphrases": [],
    })


def scenario(number: int) -> str:
    return f"Scenario {number}: what do people where I live usually have for {WORDS[number % len(WORDS)]}?"


def serve(port_pipe, stop_event) -> None:
    with StubJudgeServer(responder=respond) as stub:
        port_pipe.send(stub.server.server_address[1])
        stop_event.wait()


def timed(config: BuildConfig):
    started = time.perf_counter()
    result = build_dataset(config)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="seed questions in the synthetic seeds file (default 40)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--dedup-texts", type=int, default=2000, help="MCQs in the dedup timing (default 2000)")
    args = parser.parse_args()

    os.environ["OPENAI_API_KEY"] = "sk-benchmark-placeholder"
    receiver, sender = multiprocessing.Pipe(duplex=False)
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(sender, stop), daemon=True)
    server.start()
    port = receiver.recv()

    with tempfile.TemporaryDirectory() as folder:
        seeds = Path(folder) / "seeds.yaml"
        lines = ["languages:", "  english: [usa, uk, australia]", "topics:", "  food:", "    meals:"]
        lines += [f"      - {json.dumps(scenario(number))}" for number in range(args.seeds)]
        seeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
        generation = GeneratorConfig(concurrency=args.concurrency, cache_dir=Path(folder) / "cache", progress=False)
        spec = JudgeSpec("openai", "gpt-4o-mini", f"http://127.0.0.1:{port}/v1")
        config = BuildConfig(seeds, spec, Path(folder) / "out", generation=generation, paraphrases=0)

        cold, cold_s = timed(config)
        reused, reused_s = timed(config)
        forced, forced_s = timed(BuildConfig(seeds, spec, Path(folder) / "out", generation=generation, paraphrases=0,
                                             force=True))
    stop.set()
    server.join(timeout=5)

    requests = sum(report["usage"].get("requests", 0) for report in cold.stages)
    assert all(report["reused"] for report in reused.stages)
    assert sum(report["usage"].get("requests", 0) for report in forced.stages) == 0

    mcqs = []
    for number in range(args.dedup_texts):
        record = Mcq(f"q{number}", "english", "food", "meals", scenario(number),
                     [{"country": key, "text": text} for key, text in OPTIONS.items()], ["usa", "uk", "australia"])
        record.reindex()
        mcqs.append(record)
    started = time.perf_counter()
    output = remove_duplicates(mcqs, DedupSettings())
    dedup_s = time.perf_counter() - started
    assert len(output.records) == args.dedup_texts, output.drops[:3]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"seeds {args.seeds}, 3 countries, concurrency {args.concurrency}, {len(cold.dataset)} items")
    print(f"cold build: {cold_s:.2f} s, {requests} requests, {requests / cold_s:.1f} requests/s")
    print(f"reused build: {reused_s:.3f} s (reused / cold {reused_s / cold_s:.4f})")
    print(f"forced build from the cache: {forced_s:.3f} s (forced / cold {forced_s / cold_s:.4f})")
    print(f"dedup of {args.dedup_texts} MCQs: {dedup_s:.2f} s")


if __name__ == "__main__":
    main()

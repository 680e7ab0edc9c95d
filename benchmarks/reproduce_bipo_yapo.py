"""Train BiPO and YaPO with the same budget on the default model and plot their loss curves.

    .venv/bin/python benchmarks/reproduce_bipo_yapo.py [--country morocco] [--setting both] [--steps 150]

Runs `culturebench train --method bipo` and `--method yapo` (the bundled SAE) as two processes at
the same time, one thread each, with the same pairs, seed and settings. Then it plots the training
loss (raw and a 10-step moving average) and the eval loss of both methods, and prints for each
method the first step whose loss is below 0.1, raw and averaged. The YaPO paper reports
YaPO below 0.1 within 150 steps and BiPO above 0.3 after 600 on Gemma-2-2B; this checks what
happens on the offline default model and the bundled data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

METHODS = ("bipo", "yapo")
THRESHOLD = 0.1
WINDOW = 10


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--country", default="morocco")
    parser.add_argument("--setting", default="both")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--lr", type=float, default=5e-4, help="AdamW peak learning rate of both trainings")
    parser.add_argument("--work", type=Path, default=Path("runs/reproduce-bipo-yapo"),
                        help="folder for vectors, logs and the pair cache")
    parser.add_argument("--plot", type=Path, default=Path("docs/bipo_yapo_loss.svg"))
    parser.add_argument("--summary", type=Path, default=None, help="also write the summary as JSON here")
    parser.add_argument("--plot-only", action="store_true", help="re-plot existing logs without training")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="stop both trainings after this many seconds (setup included) and plot what ran")
    return parser.parse_args()


def train_both(arguments) -> dict[str, float]:
    """Score the items once, start both trainings and wait (stopping them at `--time-limit`)."""
    arguments.work.mkdir(parents=True, exist_ok=True)
    culturebench = str(Path(sys.executable).with_name("culturebench"))
    cache = ["--pairs-cache", str(arguments.work / "responses.jsonl")]
    common = ["--country", arguments.country, "--setting", arguments.setting, *cache]
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    began = time.perf_counter()
    # Both runs score the same items; a one-step run scores them once, so neither waits on the other.
    subprocess.run([culturebench, "train", "--method", "bipo", *common, "--steps", "1", "--eval-every", "0",
                    "--checkpoint-every", "0", "--no-resume", "--out", str(arguments.work / "warmup.safetensors")],
                   check=True, env=environment)
    processes = {}
    for method in METHODS:
        with open(arguments.work / f"{method}.out.txt", "w", encoding="utf-8") as output:
            processes[method] = subprocess.Popen(
                [culturebench, "train", "--method", method, *common, "--steps", str(arguments.steps),
                 "--eval-every", str(arguments.eval_every), "--lr", str(arguments.lr), "--no-resume",
                 "--out", str(arguments.work / f"{method}.safetensors")],
                env=environment, stdout=output, stderr=subprocess.STDOUT)
    seconds = {}
    while len(seconds) < len(processes):
        for method, process in processes.items():
            if method not in seconds and process.poll() is not None:
                seconds[method] = time.perf_counter() - began
                if process.returncode != 0:
                    raise SystemExit(f"{method} training failed; see {arguments.work / f'{method}.out.txt'}")
        if arguments.time_limit and time.perf_counter() - began > arguments.time_limit:
            for method, process in processes.items():
                if method not in seconds:
                    process.terminate()
                    process.wait()
                    seconds[method] = time.perf_counter() - began
                    print(f"{method} stopped at the {arguments.time_limit} s limit")
        time.sleep(5)
    return seconds


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def moving_average(values: list[float], window: int) -> list[float]:
    averaged = []
    for index in range(len(values)):
        chunk = values[max(0, index - window + 1): index + 1]
        averaged.append(sum(chunk) / len(chunk))
    return averaged


def first_below(values: list[float], threshold: float) -> int | None:
    """Return the 1-based step of the first value below `threshold`, or None."""
    return next((index + 1 for index, value in enumerate(values) if value < threshold), None)


def summarise(logs: dict[str, list[dict]]) -> dict:
    summary = {}
    for method, records in logs.items():
        losses = [record["loss"] for record in records]
        averaged = moving_average(losses, WINDOW)
        evaluated = [record for record in records if "eval_loss" in record]
        summary[method] = {
            "steps": len(records),
            "first_step_loss_below_0.1": first_below(losses, THRESHOLD),
            "first_step_average_below_0.1": first_below(averaged, THRESHOLD),
            "final_average_loss": averaged[-1],
            "min_average_loss": min(averaged),
            "final_eval_loss": evaluated[-1]["eval_loss"] if evaluated else None,
            "final_vector_norm": records[-1]["vector_norm"],
            "final_nonzero_latents": records[-1].get("nonzero_latents"),
            "median_step_cpu_seconds": sorted(record["cpu_seconds"] for record in records)[len(records) // 2],
        }
    return summary


def plot(logs: dict[str, list[dict]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    colors = {"bipo": "tab:blue", "yapo": "tab:orange"}
    names = {"bipo": "BiPO", "yapo": "YaPO"}
    for method, records in logs.items():
        steps = [record["step"] for record in records]
        losses = [record["loss"] for record in records]
        axes.plot(steps, losses, color=colors[method], alpha=0.25, linewidth=0.8)
        axes.plot(steps, moving_average(losses, WINDOW), color=colors[method],
                  label=f"{names[method]} training loss ({WINDOW}-step mean, {len(records)} steps logged)")
        evaluated = [record for record in records if "eval_loss" in record]
        axes.plot([record["step"] for record in evaluated], [record["eval_loss"] for record in evaluated],
                  color=colors[method], linestyle="--", marker="o", markersize=3, label=f"{names[method]} eval loss")
    axes.axhline(THRESHOLD, color="grey", linewidth=0.8, linestyle=":")
    axes.set_xlabel("step")
    axes.set_ylabel("bi-directional preference loss")
    axes.set_title(title)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    arguments = parse_arguments()
    seconds = {} if arguments.plot_only else train_both(arguments)
    logs = {method: read_log(arguments.work / f"{method}.log.jsonl") for method in METHODS}
    logs = {method: records for method, records in logs.items() if records}
    if not logs:
        raise SystemExit(f"no training steps were logged in {arguments.work}")
    summary = summarise(logs)
    for method, wall in seconds.items():
        summary[method]["wall_seconds_including_setup"] = wall
    from culturebench.model_presets import get_preset

    title = (f"Gemma 3 270M (default), {arguments.country} {arguments.setting}, "
             f"layer {get_preset('default').default_layer}, batch 4, lr {arguments.lr:g}, β 0.1")
    plot(logs, arguments.plot, title)
    print(json.dumps(summary, indent=2))
    if arguments.summary:
        arguments.summary.write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

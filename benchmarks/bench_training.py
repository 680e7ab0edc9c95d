"""Benchmark BiPO/YaPO training steps: the fast path against full forwards, on the offline default model.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_training.py [--country morocco] [--steps 5]

Prints, measured in one run on the same cloze pairs and batches (bundled train split of one country,
both variants, batch 4):
- per-step time of `train_vector` with the fast path ÷ the naive path, for BiPO and, when the
  bundled SAE is installed, YaPO. The fast path caches block-L states, runs the blocks above L
  only, projects only response positions through the vocabulary head and computes the reference
  log-probs once. The naive path runs a full forward with a hook, projects every position and
  recomputes the reference each step, as the reference BiPO/YaPO code does;
- the same ratio against a naive path whose reference log-probs are already known (policy forward
  and backward only), so the head and upper-block savings show on their own;
- tokens per second of each path, and the one-time caching cost of the fast path.

Times are CPU seconds of this process (other jobs on a shared machine disturb them less than wall
time); the median over the timed steps is reported after `--warmup` untimed steps.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import torch

from culturebench.errors import CultureBenchError
from culturebench.loaders import load_items
from culturebench.model_presets import get_preset
from culturebench.models import default_sae_path, load_model
from culturebench.steering.contrast import select_items
from culturebench.steering.pair_logps import FastPairs, NaivePairs
from culturebench.steering.pair_states import encode_pair
from culturebench.steering.preference_loss import preference_loss
from culturebench.steering.preferences import build_pairs
from culturebench.steering.sae import load_sae
from culturebench.steering.training import TrainConfig, global_batch, train_vector
from culturebench.steering.training_transforms import make_transform


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--country", default="morocco")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them (default 1)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--methods", default="bipo,yapo", help="comma-separated methods (default bipo,yapo)")
    parser.add_argument("--pairs-cache", type=Path, default=Path(tempfile.gettempdir()) / "culturebench-bench-pairs.jsonl")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    return parser.parse_args()


def timed_training(model, tokenizer, pairs, method: str, layer: int, fast: bool, arguments, sae, source) -> dict:
    """Train warm-up + timed steps; return the median CPU and wall time per timed step and the tokens per step."""
    config = TrainConfig(method=method, layer=layer, steps=arguments.warmup + arguments.steps,
                         batch_size=arguments.batch_size, fast=fast, eval_every=0, checkpoint_every=0)
    began = time.process_time()
    _, records = train_vector(model, tokenizer, pairs, config, sae=sae, sae_source=source)
    total_cpu = time.process_time() - began
    timed = records[arguments.warmup:]
    step_cpu = statistics.median(record["cpu_seconds"] for record in timed)
    tokens = statistics.median(record["tokens"] for record in timed)
    return {
        "step_cpu_seconds": step_cpu,
        "step_wall_seconds": statistics.median(record["seconds"] for record in timed),
        "tokens_per_step": tokens,
        "tokens_per_cpu_second": tokens / step_cpu,
        "setup_cpu_seconds": total_cpu - sum(record["cpu_seconds"] for record in records),
    }


def policy_only(model, tokenizer, pairs, method: str, layer: int, arguments, sae) -> dict[str, float]:
    """Time forward + backward of the steered policy alone (reference known) for one batch, per path."""
    batch = global_batch(0, 0, len(pairs), arguments.batch_size)
    encoded = [encode_pair(tokenizer, pairs[i].prompt, pairs[i].chosen, pairs[i].rejected) for i in batch]
    size = int(sae.cfg.d_sae) if sae is not None else model.config.hidden_size
    results = {}
    for name, pair_class in (("fast", FastPairs), ("naive", NaivePairs)):
        pair_set = pair_class(model, layer, encoded, with_reference=False)
        times = []
        for _ in range(arguments.warmup + arguments.steps):
            vector = torch.full((size,), 1e-3, requires_grad=True)
            began = time.process_time()
            transform = make_transform(method, vector, 1, sae)
            for index in range(len(pair_set)):
                policy = pair_set.policy(index, transform)
                preference_loss(policy[:1], policy[1:], None, None, 1).loss.backward()
            times.append(time.process_time() - began)
        results[name] = statistics.median(times[arguments.warmup:])
    return results


def main() -> None:
    arguments = parse_arguments()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(0)
    model, tokenizer = load_model(arguments.model)
    model.requires_grad_(False)
    layer = get_preset(arguments.model).default_layer
    items = select_items([item for item in load_items(None) if item.split == "train"],
                         country=arguments.country, setting="both")
    pairs = build_pairs(model, tokenizer, items, protocol="cloze", cache_path=arguments.pairs_cache)
    print(f"model {arguments.model} ({model.dtype}), layer {layer}, {len(pairs)} cloze pairs of {arguments.country}, "
          f"batch {arguments.batch_size}, {torch.get_num_threads()} thread(s), "
          f"{arguments.steps} timed steps after {arguments.warmup} warm-up")

    results = {}
    for method in arguments.methods.split(","):
        sae = source = None
        if method == "yapo":
            try:
                sae, source = load_sae(default_sae_path(arguments.model))
            except CultureBenchError as error:
                print(f"yapo skipped: {error}")
                continue
        fast = timed_training(model, tokenizer, pairs, method, layer, True, arguments, sae, source)
        naive = timed_training(model, tokenizer, pairs, method, layer, False, arguments, sae, source)
        policy = policy_only(model, tokenizer, pairs, method, layer, arguments, sae)
        results[method] = {"fast": fast, "naive": naive, "policy_only": policy,
                           "ratio": fast["step_cpu_seconds"] / naive["step_cpu_seconds"],
                           "ratio_policy_only": policy["fast"] / policy["naive"]}
        print(f"{method}: fast {fast['step_cpu_seconds']:.2f} s/step ({fast['tokens_per_cpu_second']:.0f} tokens/s, "
              f"caching {fast['setup_cpu_seconds']:.1f} s once), naive {naive['step_cpu_seconds']:.2f} s/step "
              f"({naive['tokens_per_cpu_second']:.0f} tokens/s); fast ÷ naive = {results[method]['ratio']:.3f}; "
              f"policy forward+backward only: fast ÷ naive = {results[method]['ratio_policy_only']:.3f}")
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

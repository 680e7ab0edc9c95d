"""Benchmark steering overhead inside lm-eval and multiplier sweeps, on the offline default model.

    .venv/bin/python benchmarks/bench_steering.py [--limit 24] [--repeats 3] [--sweep-limit 8]

Prints, from one run (CPU time of this process, which other jobs on a shared machine disturb
less than wall time, and wall time):
- steered dense ÷ unsteered, steered SAE (restricted Φ) ÷ unsteered and steered SAE (full Φ,
  the reference-implementation style) ÷ unsteered. Each times `loglikelihood` on the requests
  of one lm-eval task, so only the model work counts and task building is excluded. The SAE is a random
  JumpReLU SAE with d_sae 16384 on the default model's steering layer and the vector has 64 non-zero
  latents, about the L0 of SAS vectors. Configurations are interleaved and each reports its
  fastest repeat. The bundled SAE, when present, is timed as well.
- a sweep of 5 multipliers in one model load ÷ 5 separate runs (model load + evaluation each).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch

from culturebench.model_presets import get_preset
from culturebench.steering.lm_eval_model import SteeredHFLM
from culturebench.steering.sae import load_sae
from culturebench.steering.vectors import SteeringVector, save_vector

LAYER = get_preset("default").default_layer
D_SAE = 16384
SUPPORT = 64
MULTIPLIERS = [0.0, 0.5, 1.0, 2.0, 4.0]


def random_sae(folder: Path, d_in: int) -> Path:
    """Save a random JumpReLU SAE (sae-lens format) whose codes fire sparsely on hidden states."""
    from sae_lens import JumpReLUSAE, JumpReLUSAEConfig

    config = JumpReLUSAEConfig(d_in=d_in, d_sae=D_SAE, apply_b_dec_to_input=False)
    config.metadata.hook_name = f"blocks.{LAYER}.hook_resid_post"
    sae = JumpReLUSAE(config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        sae.W_enc.copy_(torch.randn(d_in, D_SAE, generator=generator) / d_in**0.5)
        sae.W_dec.copy_(torch.randn(D_SAE, d_in, generator=generator) / D_SAE**0.5)
        sae.b_enc.zero_()
        sae.threshold.fill_(1.0)
    sae.save_model(folder)
    return folder


def vector_files(folder: Path, d_in: int, sae_spec: str | None) -> dict[str, Path]:
    generator = torch.Generator().manual_seed(1)
    dense = SteeringVector(vector=torch.randn(d_in, generator=generator), method="caa", layer=LAYER,
                           space="dense", model_id="google/gemma-3-270m", hookpoint=f"model.layers.{LAYER}")
    files = {"dense": save_vector(dense, folder / "dense.safetensors")}
    specs = {"sae16k": str(random_sae(folder / "sae16k", d_in))}
    if sae_spec:
        specs["bundled"] = sae_spec
    for name, spec in specs.items():
        _, source = load_sae(spec)
        sparse = torch.zeros(source.d_sae)
        sparse[torch.randperm(source.d_sae, generator=generator)[:SUPPORT]] = torch.rand(SUPPORT, generator=generator) * 10
        vector = SteeringVector(vector=sparse, method="sas", layer=LAYER, space="sae",
                                model_id="google/gemma-3-270m", hookpoint=f"model.layers.{LAYER}", sae=source)
        files[name] = save_vector(vector, folder / f"{name}.safetensors")
    return files


def task_instances(task_name: str, limit: int):
    from lm_eval.tasks import TaskManager, get_task_dict

    task = get_task_dict([task_name], TaskManager())[task_name]
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    return [instance for instance in task.instances]


def time_configurations(lm: SteeredHFLM, files: dict[str, Path], instances, repeats: int) -> dict[str, float]:
    configurations = {"unsteered": (None, 0.0, True), "dense": (files["dense"], 4.0, True)}
    for name in files:
        if name != "dense":
            configurations[f"{name} restricted"] = (files[name], 1.0, True)
            configurations[f"{name} full"] = (files[name], 1.0, False)
    best = {name: {"wall": float("inf"), "cpu": float("inf")} for name in configurations}
    lm.loglikelihood(instances[:8], disable_tqdm=True)  # warm-up
    for _ in range(repeats):
        for name, (path, multiplier, restricted) in configurations.items():
            lm.restricted = restricted
            lm.load_vectors(None if path is None else str(path), multiplier=multiplier)
            wall, cpu = time.perf_counter(), time.process_time()
            lm.loglikelihood(instances, disable_tqdm=True)
            best[name]["wall"] = min(best[name]["wall"], time.perf_counter() - wall)
            best[name]["cpu"] = min(best[name]["cpu"], time.process_time() - cpu)
    lm.load_vectors(None)
    return best


def time_sweep(files: dict[str, Path], task_name: str, limit: int):
    """Return (wall, cpu) seconds of a one-load sweep and of separate runs, each with its model loads."""
    from lm_eval import simple_evaluate

    from culturebench.steering.sweep import run_sweep

    with tempfile.TemporaryDirectory() as output:
        wall, cpu = time.perf_counter(), time.process_time()
        lm = SteeredHFLM(pretrained="default", vector=str(files["dense"]), device="cpu", batch_size=8)
        run_sweep(lm, [task_name], MULTIPLIERS, output, limit=limit)
        swept = (time.perf_counter() - wall, time.process_time() - cpu)
    del lm

    wall, cpu = time.perf_counter(), time.process_time()
    for multiplier in MULTIPLIERS:
        simple_evaluate(model="steered_hf", tasks=[task_name], limit=limit, device="cpu", batch_size=8,
                        model_args=f"pretrained=default,vector={files['dense']},multiplier={multiplier}")
    separate = (time.perf_counter() - wall, time.process_time() - cpu)
    return swept, separate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="culture_spanish_nonloc_ll", help="lm-eval task to time")
    parser.add_argument("--limit", type=int, default=24, help="documents of the task for the overhead timing")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (the fastest is kept)")
    parser.add_argument("--sweep-limit", type=int, default=8, help="documents per run in the sweep timing")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; one thread keeps CPU-time ratios stable on a shared machine (default 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    try:
        from culturebench.models import default_sae_path

        bundled = str(default_sae_path())
    except Exception:  # the bundled SAE is optional for this benchmark
        bundled = None

    lm = SteeredHFLM(pretrained="default", device="cpu", batch_size=8)
    d_in = lm.steering.layout.hidden_size
    with tempfile.TemporaryDirectory() as folder:
        files = vector_files(Path(folder), d_in, bundled)
        instances = task_instances(args.task, args.limit)
        best = time_configurations(lm, files, instances, args.repeats)
        del lm

        print(f"task {args.task}, {len(instances)} log-likelihood requests, {torch.get_num_threads()} torch "
              f"thread(s), fastest of {args.repeats}")
        base = best["unsteered"]
        for name, times in best.items():
            print(f"  {name:<20} cpu {times['cpu']:7.2f} s  ratio {times['cpu'] / base['cpu']:.3f}   "
                  f"wall {times['wall']:7.2f} s  ratio {times['wall'] / base['wall']:.3f}")

        (swept_wall, swept_cpu), (separate_wall, separate_cpu) = time_sweep(files, args.task, args.sweep_limit)
        print(f"sweep of {len(MULTIPLIERS)} multipliers, {args.sweep_limit} documents each:")
        print(f"  cpu: one load {swept_cpu:.1f} s, separate runs {separate_cpu:.1f} s, ratio {swept_cpu / separate_cpu:.3f}")
        print(f"  wall: one load {swept_wall:.1f} s, separate runs {separate_wall:.1f} s, "
              f"ratio {swept_wall / separate_wall:.3f}")


if __name__ == "__main__":
    main()

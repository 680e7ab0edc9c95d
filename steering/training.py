"""Train BiPO (dense) and YaPO (sparse, SAE latent space) steering vectors.

Both methods minimise the bi-directional preference loss of `preference_loss` over a
zero-initialised fp32 vector v at block `layer`, with the model (and SAE) frozen. Each step
draws d ∈ {−1, +1}, steers with d·v (BiPO: h + d·v; YaPO: Φ(h, d·v)), and takes one AdamW step
with a warm-up + cosine learning-rate schedule.

Determinism: the pair order of epoch e is a permutation seeded by (seed, e), and d of step t is
seeded by (seed, t). A run is therefore a function of its settings, and a checkpoint needs only
the vector, the AdamW moments and the step.

Data parallel: when `torch.distributed` is initialised (e.g. under `accelerate launch`), each
of the W processes takes its slice of the global batch (W × batch_size pairs), the gradients
of v are averaged with `all_reduce`, and rank 0 alone writes the log and checkpoints. The
result equals one process with a W times larger batch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from culturebench.errors import CultureBenchError
from culturebench.steering.checkpoints import load_checkpoint, save_checkpoint, settings_fingerprint
from culturebench.steering.identity import model_id_of, model_revision_of
from culturebench.steering.jsonl_files import JsonlAppender, read_jsonl, rewrite_jsonl
from culturebench.steering.layers import find_decoder_layout
from culturebench.steering.pair_logps import FastPairs, NaivePairs
from culturebench.steering.pair_states import encode_pair
from culturebench.steering.preference_loss import DEFAULT_BETA, check_reference, preference_loss
from culturebench.steering.preferences import PreferencePair, pairs_sha256
from culturebench.steering.sae import SAESource, check_sae_matches_model, weights_sha256
from culturebench.steering.training_transforms import METHODS, make_transform
from culturebench.steering.vectors import SteeringVector

logger = logging.getLogger(__name__)

DEFAULT_STEPS = 200
# Training losses averaged into the vector file's `final_loss`.
FINAL_LOSS_WINDOW = 10


@dataclass
class TrainConfig:
    """Settings of one training run; the defaults are the reference BiPO/YaPO runs' where they exist.

    Args:
        method: `bipo` (dense, d_model entries) or `yapo` (SAE latent space, d_sae entries).
        layer: decoder block whose output is steered (0-based).
        steps: optimizer steps; None derives them from `epochs`, or uses 200 when both are None.
        epochs: passes over the pairs, used when `steps` is None.
        batch_size: pairs per step and process (4 in the reference runs).
        learning_rate: AdamW peak learning rate (5e-4).
        weight_decay: AdamW decoupled weight decay (0.05).
        warmup_steps: linear warm-up steps; None means 100 (the reference runs), capped at a
            tenth of the run so short runs still reach the cosine decay.
        beta: β of the preference loss (0.1).
        reference: `unsteered` (divide by the unsteered policy, as the reference code does) or
            `none` (reference-free).
        l1: λ1 of an optional L1 penalty on a YaPO vector, applied as a soft-threshold after
            each AdamW step (λ1 × learning rate), which sets small entries exactly to zero. Off (0)
            by default, as in the YaPO paper.
        seed: seeds the pair order and the directions.
        eval_every: compute the eval-pair loss every this many steps (0: only at the end).
        checkpoint_every: write a checkpoint every this many steps (0: never).
        checkpoint_path: where checkpoints go; None disables checkpoints and resuming.
        log_path: the jsonl training log; None keeps the records in memory only.
        resume: continue from `checkpoint_path` when it exists.
        fast: cache block-L states and run only the blocks above L (False: full forwards).
        autocast: run the frozen model under bf16 autocast; None enables it on CUDA only.
        max_length: pairs whose longer row exceeds this many tokens are dropped.
    """

    method: str
    layer: int
    steps: int | None = None
    epochs: float | None = None
    batch_size: int = 4
    learning_rate: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int | None = None
    beta: float = DEFAULT_BETA
    reference: str = "unsteered"
    l1: float = 0.0
    seed: int = 0
    eval_every: int = 25
    checkpoint_every: int = 50
    checkpoint_path: Path | None = None
    log_path: Path | None = None
    resume: bool = True
    fast: bool = True
    autocast: bool | None = None
    max_length: int = 1024

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise CultureBenchError(f"invalid method {self.method!r}: expected bipo or yapo")
        check_reference(self.reference)
        if self.steps is not None and self.steps < 1:
            raise CultureBenchError(f"invalid steps {self.steps}: need at least 1")
        if self.epochs is not None and self.epochs <= 0:
            raise CultureBenchError(f"invalid epochs {self.epochs}: need a positive number")
        if self.batch_size < 1:
            raise CultureBenchError(f"invalid batch size {self.batch_size}: need at least 1")
        if self.l1 < 0:
            raise CultureBenchError(f"invalid l1 {self.l1}: need a non-negative number")
        if self.l1 and self.method != "yapo":
            raise CultureBenchError("the L1 penalty applies to YaPO vectors only; drop l1 for bipo")

    def total_steps(self, num_pairs: int, world_size: int = 1) -> int:
        """Return the number of optimizer steps for `num_pairs` pairs and `world_size` processes."""
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            return max(1, math.ceil(self.epochs * num_pairs / (self.batch_size * world_size)))
        return DEFAULT_STEPS

    def warmup(self, total: int) -> int:
        if self.warmup_steps is not None:
            return self.warmup_steps
        return min(100, total // 10)


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    """Return the learning rate of 0-based `step`: linear warm-up, then cosine decay to 0."""
    warmup = config.warmup(total)
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def step_direction(seed: int, step: int) -> int:
    """Return d ∈ {−1, +1} of `step`, drawn uniformly from a generator seeded by (seed, step)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return 1 if int(torch.randint(0, 2, (1,), generator=generator)) else -1


def global_batch(seed: int, step: int, num_pairs: int, size: int) -> list[int]:
    """Return the pair indices of `step`'s global batch: consecutive slices of per-epoch permutations."""
    indices = []
    for position in range(step * size, (step + 1) * size):
        epoch, offset = divmod(position, num_pairs)
        generator = torch.Generator().manual_seed(seed * 1_000_003 + 7_919 * (epoch + 1))
        indices.append(int(torch.randperm(num_pairs, generator=generator)[offset]))
    return indices


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls) -> _Distributed:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return cls(torch.distributed.get_rank(), torch.distributed.get_world_size())
        return cls()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def average(self, tensor: Tensor) -> Tensor:
        if self.world_size > 1:
            torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
            tensor /= self.world_size
        return tensor

    def total(self, tensor: Tensor) -> Tensor:
        if self.world_size > 1:
            torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)
        return tensor


@dataclass
class _Step:
    """Sums of per-pair statistics over one batch (reduced across processes before logging)."""

    values: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("loss", "accuracy", "margin", "chosen_reward", "rejected_reward", "pairs", "tokens"), 0.0))

    def add(self, result, tokens: int) -> None:
        self.values["loss"] += float(result.losses.detach().sum())
        self.values["accuracy"] += float((result.margins > 0).float().sum())
        self.values["margin"] += float(result.margins.sum())
        self.values["chosen_reward"] += float(result.chosen_rewards.sum())
        self.values["rejected_reward"] += float(result.rejected_rewards.sum())
        self.values["pairs"] += result.losses.numel()
        self.values["tokens"] += tokens

    def reduced(self, distributed: _Distributed, device) -> dict[str, float]:
        names = list(self.values)
        totals = distributed.total(torch.tensor([self.values[name] for name in names], dtype=torch.float64,
                                                device=device))
        values = dict(zip(names, totals.tolist()))
        count = max(values.pop("pairs"), 1.0)
        tokens = values.pop("tokens")
        result = {name: value / count for name, value in values.items()}
        result["tokens"] = int(tokens)
        return result


class _Frozen:
    """Context that sets a model to eval mode without parameter gradients, then restores both."""

    def __init__(self, *modules: nn.Module | None) -> None:
        self.modules = [module for module in modules if module is not None]

    def __enter__(self) -> None:
        self.saved = [(module.training, [(p, p.requires_grad) for p in module.parameters()]) for module in self.modules]
        for module in self.modules:
            module.eval()
            module.requires_grad_(False)

    def __exit__(self, *exc_info) -> None:
        for module, (training, flags) in zip(self.modules, self.saved):
            module.train(training)
            for parameter, flag in flags:
                parameter.requires_grad_(flag)


def train_vector(
    model: nn.Module,
    tokenizer,
    pairs: Sequence[PreferencePair],
    config: TrainConfig,
    *,
    sae=None,
    sae_source: SAESource | None = None,
    eval_pairs: Sequence[PreferencePair] = (),
    country: str | None = None,
    setting: str | None = None,
) -> tuple[SteeringVector, list[dict]]:
    """Train a BiPO or YaPO vector on preference pairs and return it with the training log.

    Args:
        model: a Hugging Face causal LM (frozen during training, restored afterwards).
        tokenizer: its tokenizer.
        pairs: training pairs (prompt, chosen, rejected), e.g. from `preferences.build_pairs`.
        config: the run's settings.
        sae: the sae-lens SAE, required for `yapo`; its input must be block `config.layer`'s output.
        sae_source: where the SAE came from (recorded in the vector file); None describes an
            in-memory SAE by its weights hash.
        eval_pairs: held-out pairs whose loss is logged every `config.eval_every` steps.
        country: recorded in the vector file.
        setting: recorded in the vector file (`localized`, `nonlocalized` or `both`).

    Returns:
        `(vector, records)`: the trained `SteeringVector` (fp32, ready for `save_vector`) and
        one log record per step.

    Example:
        >>> config = TrainConfig(method="bipo", layer=6, steps=100)
        >>> vector, log = train_vector(model, tokenizer, pairs, config)
    """
    layout = find_decoder_layout(model)
    layout.check_layer(config.layer)
    device = next(model.parameters()).device
    if config.method == "yapo":
        sae_source = _check_sae(sae, sae_source, layout, config.layer)
        if sae.W_dec.device != device:
            raise CultureBenchError(f"the SAE is on {sae.W_dec.device} but the model is on {device}; "
                                    "load the SAE with load_sae(..., device=<the model's device>)")
    distributed = _Distributed.current()
    autocast = device.type == "cuda" if config.autocast is None else config.autocast

    with _Frozen(model, sae):
        train_set = _prepare(model, tokenizer, pairs, config, autocast, "training")
        eval_set = _prepare(model, tokenizer, eval_pairs, config, autocast, "eval") if eval_pairs else None
        size = int(sae.cfg.d_sae) if config.method == "yapo" else layout.hidden_size
        vector = torch.zeros(size, dtype=torch.float32, device=device, requires_grad=True)
        optimizer = torch.optim.AdamW([vector], lr=config.learning_rate, weight_decay=config.weight_decay)
        total = config.total_steps(len(train_set), distributed.world_size)
        fingerprint = settings_fingerprint({
            "config": _fingerprint_settings(config), "total": total, "world_size": distributed.world_size,
            "pairs": pairs_sha256(pairs), "model": model_id_of(model),
            "sae": sae_source.sha256 if sae_source else None,
        })
        start, records = _resume(config, vector, optimizer, fingerprint)
        # Each log record names the method, country and setting, so readers of the log (the
        # leaderboard's loss curves) can label it without the vector file.
        labels = {name: value for name, value in (("method", config.method), ("country", country),
                                                  ("setting", setting)) if value}
        trainer = _Trainer(config, train_set, eval_set, vector, optimizer, sae, distributed, total, fingerprint,
                           labels)
        records = trainer.run(start, records)

    steering_vector = SteeringVector(
        vector=vector.detach().to("cpu").clone(),
        method=config.method,
        layer=config.layer,
        space="sae" if config.method == "yapo" else "dense",
        model_id=model_id_of(model),
        hookpoint=layout.hookpoint(config.layer),
        model_revision=model_revision_of(model),
        sae=sae_source if config.method == "yapo" else None,
        training_data_sha256=pairs_sha256(pairs),
        country=country,
        setting=setting,
        steps=total,
        final_loss=_final_loss(records),
        extra=_extra(config, len(train_set), distributed, records),
    )
    return steering_vector, records


def _check_sae(sae, source: SAESource | None, layout, layer: int) -> SAESource:
    if sae is None:
        raise CultureBenchError("yapo trains in SAE latent space: pass the SAE (e.g. the model's bundled SAE)")
    if source is None:
        source = SAESource(spec="in-memory", d_in=int(sae.cfg.d_in), d_sae=int(sae.cfg.d_sae),
                           hook_name=str(sae.cfg.metadata.hook_name or ""), architecture=sae.cfg.architecture(),
                           sha256=weights_sha256(sae))
    check_sae_matches_model(source, layout, layer)
    return source


def _prepare(model, tokenizer, pairs, config: TrainConfig, autocast: bool, description: str):
    encoded = []
    for pair in pairs:
        item = encode_pair(tokenizer, pair.prompt, pair.chosen, pair.rejected)
        if item.input_ids.shape[1] > config.max_length:
            logger.warning("dropping a pair of %d tokens (max_length %d): %.60r", item.input_ids.shape[1],
                           config.max_length, pair.prompt)
            continue
        encoded.append(item)
    if not encoded:
        raise CultureBenchError(f"no {description} pairs left to train on (max_length {config.max_length})")
    with_reference = config.reference == "unsteered"
    if config.fast:
        return FastPairs(model, config.layer, encoded, with_reference=with_reference, autocast=autocast,
                         description=f"{description}:")
    return NaivePairs(model, config.layer, encoded, with_reference=with_reference, autocast=autocast)


def _fingerprint_settings(config: TrainConfig) -> dict:
    settings = asdict(config)
    for name in ("eval_every", "checkpoint_every", "checkpoint_path", "log_path", "resume", "fast", "autocast"):
        settings.pop(name)
    return settings


def _resume(config: TrainConfig, vector: Tensor, optimizer, fingerprint: str) -> tuple[int, list[dict]]:
    path = config.checkpoint_path
    if path is None or not config.resume or not Path(path).is_file():
        if config.log_path is not None and _is_main():
            rewrite_jsonl(config.log_path, [])
        return 0, []
    step = load_checkpoint(path, vector, optimizer, fingerprint)
    records = [record for record in read_jsonl(config.log_path) if record.get("step", 0) <= step] \
        if config.log_path is not None else []
    if config.log_path is not None and _is_main():
        rewrite_jsonl(config.log_path, records)
    logger.info("resuming from %s after step %d", path, step)
    return step, records


def _is_main() -> bool:
    return _Distributed.current().main


class _Trainer:
    """The optimisation loop of `train_vector` (one instance per run)."""

    def __init__(self, config: TrainConfig, train_set, eval_set, vector: Tensor, optimizer, sae,
                 distributed: _Distributed, total: int, fingerprint: str, labels: dict[str, str]) -> None:
        self.config = config
        self.labels = labels
        self.train_set = train_set
        self.eval_set = eval_set
        self.vector = vector
        self.optimizer = optimizer
        self.sae = sae
        self.distributed = distributed
        self.total = total
        self.fingerprint = fingerprint

    def run(self, start: int, records: list[dict]) -> list[dict]:
        config = self.config
        log = JsonlAppender(config.log_path) if config.log_path is not None and self.distributed.main else None
        try:
            for step in range(start, self.total):
                record = self.step(step)
                done = step + 1
                if self.eval_set is not None and (done == self.total or (config.eval_every and done % config.eval_every == 0)):
                    record.update(self.evaluate())
                records.append(record)
                if log is not None:
                    log.append(record)
                if done % 10 == 0 or done == self.total:
                    logger.info("step %d/%d loss %.4f acc %.2f |v| %.4g", done, self.total, record["loss"],
                                record["accuracy"], record["vector_norm"])
                if (config.checkpoint_path is not None and config.checkpoint_every
                        and done % config.checkpoint_every == 0 and self.distributed.main):
                    save_checkpoint(config.checkpoint_path, self.vector, self.optimizer, done, self.fingerprint)
        finally:
            if log is not None:
                log.close()
        return records

    def step(self, step: int) -> dict:
        config = self.config
        began, began_cpu = time.perf_counter(), time.process_time()
        rate = learning_rate(config, step, self.total)
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        direction = step_direction(config.seed, step)
        batch = self._local_batch(step)
        transform = make_transform(config.method, self.vector, direction, self.sae)

        statistics = _Step()
        for index in batch:
            result = self._pair_loss(self.train_set, index, transform, direction)
            (result.loss / len(batch)).backward()
            statistics.add(result, self.train_set.num_tokens(index))

        self.distributed.average(self.vector.grad)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if config.l1:
            with torch.no_grad():
                self.vector.copy_(torch.sign(self.vector) * torch.clamp(self.vector.abs() - rate * config.l1, min=0))

        record = {"step": step + 1, **self.labels, "lr": rate, "direction": direction,
                  **statistics.reduced(self.distributed, self.vector.device)}
        record["vector_norm"] = float(self.vector.detach().norm())
        if config.method == "yapo":
            record["nonzero_latents"] = int((self.vector.detach() != 0).sum())
        if config.l1:
            record["l1_norm"] = float(self.vector.detach().abs().sum())
        record["seconds"] = time.perf_counter() - began
        record["cpu_seconds"] = time.process_time() - began_cpu
        return record

    def _local_batch(self, step: int) -> list[int]:
        size = self.config.batch_size
        indices = global_batch(self.config.seed, step, len(self.train_set), size * self.distributed.world_size)
        rank = self.distributed.rank
        return indices[rank * size:(rank + 1) * size]

    def _pair_loss(self, pair_set, index: int, transform, direction: int):
        policy = pair_set.policy(index, transform)
        reference = pair_set.reference(index) if self.config.reference == "unsteered" else None
        return preference_loss(policy[0:1], policy[1:2],
                               None if reference is None else reference[0:1],
                               None if reference is None else reference[1:2],
                               direction, beta=self.config.beta)

    def evaluate(self) -> dict:
        """Return the eval-pair loss for d = +1 and d = −1 and their mean (sharded across processes)."""
        result = {}
        with torch.no_grad():
            for direction, name in ((1, "plus"), (-1, "minus")):
                transform = make_transform(self.config.method, self.vector, direction, self.sae)
                statistics = _Step()
                for index in range(self.distributed.rank, len(self.eval_set), self.distributed.world_size):
                    statistics.add(self._pair_loss(self.eval_set, index, transform, direction),
                                   self.eval_set.num_tokens(index))
                reduced = statistics.reduced(self.distributed, self.vector.device)
                result[f"eval_loss_{name}"] = reduced["loss"]
                result[f"eval_accuracy_{name}"] = reduced["accuracy"]
        result["eval_loss"] = (result["eval_loss_plus"] + result["eval_loss_minus"]) / 2
        return result


def _final_loss(records: list[dict]) -> float | None:
    if not records:
        return None
    window = records[-FINAL_LOSS_WINDOW:]
    return sum(record["loss"] for record in window) / len(window)


def _extra(config: TrainConfig, num_pairs: int, distributed: _Distributed, records: list[dict]) -> dict[str, str]:
    extra = {
        "beta": str(config.beta),
        "reference": config.reference,
        "learning_rate": str(config.learning_rate),
        "weight_decay": str(config.weight_decay),
        "batch_size": str(config.batch_size * distributed.world_size),
        "seed": str(config.seed),
        "pairs": str(num_pairs),
        "final_loss_window": str(FINAL_LOSS_WINDOW),
    }
    if config.l1:
        extra["l1"] = str(config.l1)
    evaluated = [record for record in records if "eval_loss" in record]
    if evaluated:
        extra["eval_loss"] = f"{evaluated[-1]['eval_loss']:.6g}"
    return extra

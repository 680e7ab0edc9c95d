"""BiPO/YaPO training: fast path equals full forwards, resume, data parallel, schedule and metadata."""

from __future__ import annotations

import json
import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as multiprocessing

from culturebench.cli.train import _init_distributed
from culturebench.errors import CultureBenchError
from culturebench.steering.layers import find_decoder_layout
from culturebench.steering.pair_logps import FastPairs, NaivePairs
from culturebench.steering.pair_states import encode_pair
from culturebench.steering.preference_loss import preference_loss
from culturebench.steering.preferences import PreferencePair
from culturebench.steering.training import TrainConfig, global_batch, learning_rate, step_direction, train_vector
from culturebench.steering.training_transforms import make_transform
from culturebench.steering.vectors import check_vector, load_vector, save_vector
from tests import tiny_models
from tests.steering.sae_fixtures import D_SAE, build_sae

LAYER = 1
PAIRS = [
    PreferencePair("What do people eat for breakfast?\nAnswer:", " Ful and taameya", " Toast"),
    PreferencePair("¿Qué se suele desayunar entre semana?\nAnswer:", " Tostadas con tomate", " Pão com manteiga"),
    PreferencePair("लोग नाश्ते में क्या खाते हैं?\nAnswer:", " पराठा और चाय", " Toast with tomato and bread"),
    PreferencePair("O que se come normalmente?\nAnswer:", " Pão com manteiga", " Ful"),
    PreferencePair("ماذا يأكل الناس عادة في الفطور؟\nAnswer:", " فول مدمس وطعمية", " Toast"),
    PreferencePair("Answer with the number of the option\nAnswer:", " \\boxed{2}", " \\boxed{1}"),
]


def _batch_loss(pair_set, method, vector, direction, sae, reference):
    transform = make_transform(method, vector, direction, sae)
    total = 0
    for index in range(len(pair_set)):
        policy = pair_set.policy(index, transform)
        ref = pair_set.reference(index) if reference == "unsteered" else None
        result = preference_loss(policy[:1], policy[1:], None if ref is None else ref[:1],
                                 None if ref is None else ref[1:], direction)
        total = total + result.loss / len(pair_set)
    return total


@pytest.mark.parametrize("method, sae_architecture", [("bipo", None), ("yapo", "jumprelu"), ("yapo", "topk")])
def test_fast_path_matches_full_forward(tiny_model, tiny_tokenizer, method, sae_architecture):
    sae = build_sae(sae_architecture, layer=LAYER) if sae_architecture else None
    encoded = [encode_pair(tiny_tokenizer, pair.prompt, pair.chosen, pair.rejected) for pair in PAIRS]
    size = D_SAE if sae is not None else tiny_models.HIDDEN_SIZE
    for reference in ("unsteered", "none"):
        for direction in (1, -1):
            results = []
            for pair_class in (FastPairs, NaivePairs):
                pair_set = pair_class(tiny_model, LAYER, encoded, with_reference=reference == "unsteered")
                vector = (torch.randn(size, generator=torch.Generator().manual_seed(3)) * 0.5).requires_grad_()
                loss = _batch_loss(pair_set, method, vector, direction, sae, reference)
                loss.backward()
                results.append((loss.detach(), vector.grad))
            (fast_loss, fast_grad), (naive_loss, naive_grad) = results
            torch.testing.assert_close(fast_loss, naive_loss, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(fast_grad, naive_grad, atol=1e-4, rtol=1e-4)
            assert float(fast_grad.abs().max()) > 1e-4


@pytest.mark.parametrize("method", ["bipo", "yapo"])
def test_zero_vector_policy_is_reference(tiny_tokenizer, method):
    model = tiny_models.build_model("gemma3")
    sae = build_sae("topk", layer=LAYER) if method == "yapo" else None
    encoded = [encode_pair(tiny_tokenizer, pair.prompt, pair.chosen, pair.rejected) for pair in PAIRS]
    pair_set = FastPairs(model, LAYER, encoded, with_reference=True)
    vector = torch.zeros(D_SAE if sae is not None else tiny_models.HIDDEN_SIZE)
    loss = _batch_loss(pair_set, method, vector, 1, sae, "unsteered")
    assert loss.item() == pytest.approx(math.log(2.0), abs=1e-7)


def _config(**overrides) -> TrainConfig:
    settings = dict(method="bipo", layer=LAYER, steps=6, batch_size=2, learning_rate=1e-2, eval_every=3,
                    checkpoint_every=0)
    settings.update(overrides)
    return TrainConfig(**settings)


def test_training_lowers_loss_and_logs(tiny_tokenizer, tmp_path):
    model = tiny_models.build_model("llama")
    config = _config(steps=40, learning_rate=5e-2, batch_size=3, eval_every=10, log_path=tmp_path / "log.jsonl")
    vector, records = train_vector(model, tiny_tokenizer, PAIRS, config, eval_pairs=PAIRS[:2], country="spain")

    assert [record["step"] for record in records] == list(range(1, 41))
    assert records[0]["loss"] == pytest.approx(math.log(2.0), abs=1e-6)
    assert sum(record["loss"] for record in records[-10:]) / 10 < math.log(2.0) - 0.03
    assert [record["step"] for record in records if "eval_loss" in record] == [10, 20, 30, 40]
    assert records[-1]["eval_loss"] < records[9]["eval_loss"] < math.log(2.0)
    for field in ("lr", "direction", "accuracy", "margin", "vector_norm", "tokens", "seconds"):
        assert field in records[-1]
    assert records[-1]["vector_norm"] == pytest.approx(vector.norm, rel=1e-6)
    assert (vector.method, vector.space, vector.layer, vector.country) == ("bipo", "dense", LAYER, "spain")
    assert vector.final_loss == pytest.approx(sum(r["loss"] for r in records[-10:]) / 10)
    assert all(param.requires_grad for param in model.parameters())
    lines = (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40


def test_log_records_name_method_country_setting(tiny_tokenizer, tmp_path):
    model = tiny_models.build_model("llama")
    config = _config(steps=2, log_path=tmp_path / "log.jsonl")
    _, records = train_vector(model, tiny_tokenizer, PAIRS, config, country="egypt", setting="localized")
    _, unlabelled = train_vector(model, tiny_tokenizer, PAIRS, _config(steps=1))

    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    for record in (*records, *logged):
        assert record["method"] == "bipo"
        assert record["country"] == "egypt"
        assert record["setting"] == "localized"
    assert unlabelled[0]["method"] == "bipo"
    assert "country" not in unlabelled[0]
    assert "setting" not in unlabelled[0]


def test_yapo_logs_nonzero_latents_and_l1_sparsifies(tiny_tokenizer):
    model = tiny_models.build_model("gemma2")
    sae = build_sae("jumprelu", layer=LAYER)
    dense, records = train_vector(model, tiny_tokenizer, PAIRS, _config(method="yapo"), sae=sae)
    sparse, sparse_records = train_vector(model, tiny_tokenizer, PAIRS, _config(method="yapo", l1=20.0), sae=sae)

    assert records[-1]["nonzero_latents"] == dense.l0 > 0
    assert sparse_records[-1]["nonzero_latents"] == sparse.l0
    assert sparse.l0 < dense.l0
    assert "l1_norm" in sparse_records[-1]
    assert (dense.space, dense.sae.d_sae, dense.sae.spec) == ("sae", D_SAE, "in-memory")


def test_resume_matches_uninterrupted_run(tiny_tokenizer, tmp_path):
    model = tiny_models.build_model("qwen2")
    sae = build_sae("jumprelu", layer=LAYER)
    whole, whole_records = train_vector(model, tiny_tokenizer, PAIRS, _config(method="yapo"), sae=sae)

    checkpoint = tmp_path / "run.checkpoint.safetensors"
    config = _config(method="yapo", checkpoint_every=3, checkpoint_path=checkpoint, log_path=tmp_path / "log.jsonl")
    block = find_decoder_layout(model).blocks[LAYER + 1]

    def crash_after_checkpoint(module, args):
        if checkpoint.exists():
            raise RuntimeError("simulated interruption")

    handle = block.register_forward_pre_hook(crash_after_checkpoint)
    with pytest.raises(RuntimeError, match="simulated interruption"):
        train_vector(model, tiny_tokenizer, PAIRS, config, sae=sae)
    handle.remove()
    assert len((tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()) == 3

    resumed, resumed_records = train_vector(model, tiny_tokenizer, PAIRS, config, sae=sae)
    torch.testing.assert_close(resumed.vector, whole.vector, atol=0, rtol=0)
    assert [r["step"] for r in resumed_records] == list(range(1, 7))
    assert [r["loss"] for r in resumed_records] == [r["loss"] for r in whole_records]


def test_checkpoint_of_other_settings_is_rejected(tiny_tokenizer, tmp_path):
    model = tiny_models.build_model("llama")
    checkpoint = tmp_path / "run.checkpoint.safetensors"
    train_vector(model, tiny_tokenizer, PAIRS, _config(checkpoint_every=3, checkpoint_path=checkpoint))
    with pytest.raises(CultureBenchError, match="other settings"):
        train_vector(model, tiny_tokenizer, PAIRS, _config(checkpoint_path=checkpoint, learning_rate=1e-3))
    vector, records = train_vector(model, tiny_tokenizer, PAIRS,
                                   _config(checkpoint_path=checkpoint, learning_rate=1e-3, resume=False))
    assert len(records) == 6


def _data_parallel_worker(rank: int, port: int, out: str) -> None:
    # The environment `torchrun` sets; the train command joins the group it describes.
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"})
    torch.set_num_threads(1)
    joined_rank, device = _init_distributed(None)
    assert (joined_rank, device) == (rank, "cpu")
    try:
        model = tiny_models.build_model("gemma3")
        tokenizer = tiny_models.build_tokenizer()
        config = _config(method="yapo", batch_size=2, steps=5)
        vector, records = train_vector(model, tokenizer, PAIRS, config, sae=build_sae("jumprelu", layer=LAYER),
                                       eval_pairs=PAIRS[:3])
        if rank == 0:
            save_vector(vector, out)
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one_with_combined_batch(tiny_tokenizer, tmp_path):
    out = tmp_path / "parallel.safetensors"
    multiprocessing.spawn(_data_parallel_worker, args=(_free_port(), str(out)), nprocs=2, join=True)
    parallel = load_vector(out)

    single, records = train_vector(tiny_models.build_model("gemma3"), tiny_tokenizer, PAIRS,
                                   _config(method="yapo", batch_size=4, steps=5),
                                   sae=build_sae("jumprelu", layer=LAYER), eval_pairs=PAIRS[:3])
    assert float(single.vector.abs().max()) > 0
    torch.testing.assert_close(parallel.vector, single.vector, atol=1e-6, rtol=1e-5)
    assert parallel.extra["batch_size"] == "4"
    assert float(parallel.extra["eval_loss"]) == pytest.approx(float(single.extra["eval_loss"]), rel=1e-5)


def test_vector_file_loads_and_checks(tiny_tokenizer, tmp_path):
    model = tiny_models.build_model("gemma2")
    sae = build_sae("topk", layer=LAYER)
    vector, _ = train_vector(model, tiny_tokenizer, PAIRS, _config(method="yapo", steps=2), sae=sae,
                             country="mexico", setting="localized")
    loaded = load_vector(save_vector(vector, tmp_path / "yapo.safetensors"))
    check_vector(loaded, find_decoder_layout(model), sae=vector.sae)
    assert (loaded.method, loaded.steps, loaded.setting) == ("yapo", 2, "localized")
    assert loaded.vector.dtype == torch.float32
    assert loaded.training_data_sha256 == vector.training_data_sha256
    assert loaded.extra["reference"] == "unsteered"


def test_schedule_directions_and_batches():
    config = TrainConfig(method="bipo", layer=0, steps=1000, learning_rate=1e-3)
    assert config.warmup(1000) == 100
    assert config.warmup(150) == 15
    assert learning_rate(config, 0, 1000) == pytest.approx(1e-5)
    assert learning_rate(config, 99, 1000) == pytest.approx(1e-3)
    assert learning_rate(config, 550, 1000) == pytest.approx(0.5e-3)
    assert learning_rate(config, 999, 1000) < 1e-7

    directions = [step_direction(0, step) for step in range(400)]
    assert set(directions) == {-1, 1}
    assert 150 < directions.count(1) < 250
    assert directions == [step_direction(0, step) for step in range(400)]

    first_epoch = [index for step in range(3) for index in global_batch(5, step, 12, 4)]
    assert sorted(first_epoch) == list(range(12))
    assert TrainConfig(method="bipo", layer=0, epochs=2, batch_size=4).total_steps(10) == 5
    assert TrainConfig(method="bipo", layer=0, epochs=2, batch_size=4).total_steps(10, world_size=2) == 3


def test_invalid_settings_are_rejected(tiny_tokenizer):
    with pytest.raises(CultureBenchError, match="invalid method 'dpo'"):
        TrainConfig(method="dpo", layer=0)
    with pytest.raises(CultureBenchError, match="invalid reference"):
        TrainConfig(method="bipo", layer=0, reference="model")
    with pytest.raises(CultureBenchError, match="YaPO vectors only"):
        TrainConfig(method="bipo", layer=0, l1=0.1)
    model = tiny_models.build_model("llama")
    with pytest.raises(CultureBenchError, match="pass the SAE"):
        train_vector(model, tiny_tokenizer, PAIRS, _config(method="yapo"))
    with pytest.raises(CultureBenchError, match="layer 9 is out of range"):
        train_vector(model, tiny_tokenizer, PAIRS, _config(layer=9))
    with pytest.raises(CultureBenchError, match="reads block 2"):
        train_vector(model, tiny_tokenizer, PAIRS, _config(method="yapo"), sae=build_sae("jumprelu", layer=2))


def test_bf16_autocast_keeps_fp32_vector(tiny_tokenizer):
    model = tiny_models.build_model("gemma3")
    sae = build_sae("topk", layer=LAYER)
    vector, records = train_vector(model, tiny_tokenizer, PAIRS, _config(method="yapo", autocast=True), sae=sae)
    assert vector.vector.dtype == torch.float32
    assert records[0]["loss"] == pytest.approx(math.log(2.0), abs=1e-6)
    assert vector.norm > 0
    assert next(model.parameters()).dtype == torch.float32

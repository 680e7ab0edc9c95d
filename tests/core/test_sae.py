"""SAE training with sae-lens, evaluation, and the SAE bundled for the default model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from culturebench.model_presets import PRESETS
from culturebench.models import default_sae_path, load_model, resolve_model_path
from culturebench.sae_eval import SaeQuality, block_outputs, evaluate_sae, load_sae, quality_on_activations
from culturebench.sae_training import SaeTrainingSettings, pack_rows, train_sae

HELDOUT_SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sae_heldout_sample.jsonl"


def test_pack_rows_start_with_bos(tiny_tokenizer):
    texts = ["ماذا يأكل الناس عادة في الفطور؟ فول مدمس وطعمية", "¿Qué se suele desayunar entre semana?"] * 20
    rows = pack_rows(texts, tiny_tokenizer, context_size=16, max_tokens=10_000, seed=0)
    assert rows
    assert all(len(row) == 16 for row in rows)
    assert all(row[0] == tiny_tokenizer.bos_token_id for row in rows)
    assert pack_rows(texts, tiny_tokenizer, 16, 10_000, seed=0) == rows
    assert pack_rows(texts, tiny_tokenizer, 16, 10_000, seed=None) != rows


def test_pack_rows_stops_at_max_tokens(tiny_tokenizer):
    texts = ["What do people usually eat for breakfast on a weekday?"] * 200
    rows = pack_rows(texts, tiny_tokenizer, context_size=16, max_tokens=64, seed=None)
    assert len(rows) == 4


def test_quality_of_perfect_and_empty_codes():
    from sae_lens import SAE

    sae = SAE.from_dict({"architecture": "standard", "d_in": 4, "d_sae": 8, "dtype": "float32", "device": "cpu"})
    with torch.no_grad():
        sae.W_enc.zero_()
        sae.W_dec.zero_()
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    activations = torch.randn(100, 4)
    quality = quality_on_activations(sae, activations)
    assert quality.l0 == 0
    assert quality.dead_fraction == 1.0
    assert quality.fraction_variance_explained == pytest.approx(1 - float(activations.pow(2).sum() / (activations - activations.mean(0)).pow(2).sum()), abs=1e-5)
    assert quality.tokens == 100


def _write_corpus(folder: Path) -> Path:
    texts = [
        "What do people usually eat for breakfast on a weekday? Options: 1. 2. 3.",
        "ماذا يأكل الناس عادة في الفطور؟ فول مدمس وطعمية",
        "¿Qué se suele desayunar entre semana? Tostadas con tomate",
        "O que se come normalmente ao pequeno-almoço? Pão com manteiga",
        "लोग आमतौर पर नाश्ते में क्या खाते हैं? पराठा और चाय",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"text": f"{text} {index}", "language": "mixed", "source": "test"}, ensure_ascii=False)
            for index in range(60) for text in texts]
    (folder / "train.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "heldout.jsonl").write_text("\n".join(rows[:40]) + "\n", encoding="utf-8")
    return folder


def test_train_tiny_sae_with_sae_lens(tmp_path, tiny_model_dir):
    corpus = _write_corpus(tmp_path / "corpus")
    settings = SaeTrainingSettings(model=str(tiny_model_dir), layer=1, width=128, k=8, tokens=8192,
                                   corpus=str(corpus), context_size=32, batch_tokens=256,
                                   norm_estimate_batches=2, model_dtype="float32")
    out = tmp_path / "sae"
    quality = train_sae(settings, out)

    assert (out / "cfg.json").is_file()
    assert (out / "sae_weights.safetensors").is_file()
    cfg = json.loads((out / "cfg.json").read_text(encoding="utf-8"))
    assert cfg["architecture"] == "topk"
    assert cfg["d_in"] == 64
    assert cfg["d_sae"] == 128
    assert cfg["metadata"]["hook_name"] == "model.layers.1"
    assert cfg["normalize_activations"] == "none"
    sae = load_sae(out)
    assert sae.W_dec.dtype == torch.float32
    record = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert record["layer"] == 1
    assert 0 < quality["l0"] <= 8
    assert quality["training_tokens_per_second"] > 0
    assert quality["fraction_variance_explained"] > 0


def test_train_requires_layer_for_non_preset(tmp_path, tiny_model_dir):
    from culturebench.errors import CultureBenchError

    settings = SaeTrainingSettings(model=str(tiny_model_dir), corpus=str(_write_corpus(tmp_path / "c")))
    with pytest.raises(CultureBenchError, match="--layer"):
        train_sae(settings, tmp_path / "sae")


def test_bundled_sae_files_fit_budget():
    folder = default_sae_path()
    weights = folder / "sae_weights.safetensors"
    assert weights.stat().st_size <= 15 * 1024 * 1024
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        assert {handle.get_tensor(name).dtype for name in handle.keys()} == {torch.float16}
    cfg = json.loads((folder / "cfg.json").read_text(encoding="utf-8"))
    preset = PRESETS["default"]
    assert cfg["d_in"] == preset.hidden_size
    assert cfg["metadata"]["hook_name"] == preset.hookpoint
    assert folder.name == preset.sae_id


@pytest.mark.slow
def test_bundled_sae_quality_on_heldout():
    preset = PRESETS["default"]
    sae = load_sae(default_sae_path())
    model, _ = load_model("default", device="cpu")
    assert sae.cfg.d_in == model.config.hidden_size
    assert preset.default_layer < model.config.num_hidden_layers

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("default"))
    texts = [json.loads(line)["text"] for line in HELDOUT_SAMPLE.read_text(encoding="utf-8").splitlines()]
    quality = evaluate_sae(sae, model, tokenizer, texts, preset.default_layer, max_tokens=20_000)
    assert isinstance(quality, SaeQuality)
    assert quality.tokens >= 15_000
    assert quality.fraction_variance_explained >= 0.7
    assert quality.dead_fraction <= 0.2

    activations = block_outputs(model, tokenizer, texts[:4], preset.default_layer, max_tokens=512)
    assert activations.shape[-1] == sae.cfg.d_in


def test_export_checkpoint_folds_scaling(tmp_path, tiny_model_dir):
    from sae_lens import TrainingSAE
    from sae_lens.saes.topk_sae import TopKTrainingSAEConfig

    from culturebench.sae_training import export_checkpoint

    torch.manual_seed(0)
    config = TopKTrainingSAEConfig(d_in=64, d_sae=128, k=8, normalize_activations="expected_average_only_in")
    trained = TrainingSAE.from_dict(config.to_dict())
    with torch.no_grad():
        trained.b_dec.normal_()
    checkpoint = tmp_path / "checkpoint"
    trained.save_model(str(checkpoint))
    (checkpoint / "activation_scaler.json").write_text(json.dumps({"scaling_factor": 0.25}), encoding="utf-8")

    out = tmp_path / "sae"
    settings = SaeTrainingSettings(model=str(tiny_model_dir), layer=1, corpus=str(tmp_path / "corpus"))
    export_checkpoint(checkpoint, out, settings, layer=1)

    exported = load_sae(out)
    raw = torch.randn(32, 64) * 40
    with torch.no_grad():
        expected = trained.decode(trained.encode(raw * 0.25)) / 0.25
        actual = exported.decode(exported.encode(raw))
    assert exported.cfg.normalize_activations == "none"
    assert torch.allclose(actual, expected, rtol=2e-2, atol=2e-1)

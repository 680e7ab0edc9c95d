"""BiPO and YaPO for a few steps on the real default model and its bundled SAE, loaded into steered_hf."""

from __future__ import annotations

import math

import pytest
import torch

from culturebench.loaders import load_items
from culturebench.model_presets import get_preset
from culturebench.models import default_sae_path, load_model
from culturebench.steering.contrast import select_items
from culturebench.steering.lm_eval_model import SteeredHFLM
from culturebench.steering.preferences import build_pairs
from culturebench.steering.sae import load_sae
from culturebench.steering.training import TrainConfig, train_vector
from culturebench.steering.vectors import save_vector


@pytest.mark.slow
def test_default_model_vectors_load_into_steered_hf(tmp_path):
    torch.set_num_threads(1)
    model, tokenizer = load_model("default", device="cpu")
    sae, source = load_sae(default_sae_path("default"))
    layer = get_preset("default").default_layer
    items = select_items([item for item in load_items(None) if item.split == "train"],
                         country="morocco", setting="nonlocalized")[:6]
    pairs = build_pairs(model, tokenizer, items, protocol="cloze", cache_path=tmp_path / "responses.jsonl")
    assert len(pairs) == 6

    paths = []
    for method in ("bipo", "yapo"):
        config = TrainConfig(method=method, layer=layer, steps=3, batch_size=2, learning_rate=1e-2)
        vector, records = train_vector(model, tokenizer, pairs, config, sae=sae, sae_source=source,
                                       country="morocco", setting="nonlocalized")
        assert records[0]["loss"] == pytest.approx(math.log(2.0), abs=1e-6)
        assert vector.norm > 0
        paths.append(save_vector(vector, tmp_path / f"{method}.safetensors"))
    assert [path.name for path in paths] == ["bipo.safetensors", "yapo.safetensors"]

    lm = SteeredHFLM(pretrained="default", vector=";".join(str(path) for path in paths), multiplier="1;1",
                     batch_size=2, device="cpu", dtype="bfloat16")
    assert [item.vector.method for item in lm.steering.files] == ["bipo", "yapo"]
    ids = torch.tensor([tokenizer(pairs[0].prompt + pairs[0].chosen)["input_ids"]])
    with torch.no_grad():
        steered = lm.model(ids).logits
        lm.remove_steering()
        unsteered = lm.model(ids).logits
    assert not torch.equal(steered, unsteered)

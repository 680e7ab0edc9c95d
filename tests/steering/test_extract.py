"""CAA and SAS extraction: answer positions, batching, the SAS frequency rule, and the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from culturebench.cli import main
from culturebench.errors import CultureBenchError
from culturebench.items import Item, Option
from culturebench.steering.contrast import ContrastGroup, groups_from_items, groups_from_pairs, select_items
from culturebench.steering.extract import encode_example, extract_caa, extract_sas
from culturebench.steering.lm_eval_model import SteeredHFLM
from culturebench.steering.vectors import load_vector
from tests import tiny_models
from tests.model_guard import no_model_loading  # noqa: F401 - a fixture
from tests.steering.sae_fixtures import D_SAE, build_sae

LAYER = 1
GROUPS = [
    ContrastGroup("What do people eat for breakfast?\nAnswer:", (" Ful and taameya",), (" Toast", " Bread with butter")),
    ContrastGroup("¿Qué se suele desayunar?\nAnswer:", (" Tostadas con tomate",), (" Pão com manteiga",)),
    ContrastGroup("लोग नाश्ते में क्या खाते हैं?\nAnswer:", (" पराठा और चाय",), (" Toast with tomato", " Ful")),
]


def _item(variant: str, answer: int = 0) -> Item:
    return Item(
        id=f"es-1-spain-{variant}", pair_id="es-1-spain", language="spanish", country="spain", topic="food",
        subtopic="soup", variant=variant, question="¿Qué sopa preparo?",
        options=(Option("Gazpacho", "spain"), Option("Pozole", "mexico"), Option("Clam chowder", "western"),
                 Option("Sopa de maní", "bolivia")),
        answer=answer, split="train",
    )


def _manual_means(model, tokenizer, groups):
    """Per-example block outputs averaged over answer tokens, one sequence at a time."""
    positives, negatives = [], []
    for group in groups:
        for answers, bucket in ((group.positives, positives), (group.negatives, negatives)):
            for answer in answers:
                ids, start = encode_example(tokenizer, group.prompt, answer)
                with torch.no_grad():
                    states = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
                bucket.append(states[LAYER + 1][0, start:].mean(dim=0))
    return torch.stack(positives), torch.stack(negatives)


def test_caa_matches_unbatched_mean(tiny_model, tiny_tokenizer):
    vector, stats = extract_caa(tiny_model, tiny_tokenizer, GROUPS, LAYER, batch_size=3)
    positives, negatives = _manual_means(tiny_model, tiny_tokenizer, GROUPS)
    torch.testing.assert_close(vector, positives.mean(0) - negatives.mean(0), atol=1e-4, rtol=1e-4)
    assert stats == {"positives": 3, "negatives": 5}


def test_answer_tokens_follow_lm_eval_split(tiny_tokenizer):
    ids, start = encode_example(tiny_tokenizer, "Question?\nAnswer: ", "Toast")
    prompt_ids = tiny_tokenizer("Question?\nAnswer:")["input_ids"]
    assert ids[:start] == prompt_ids
    assert tiny_tokenizer.decode(ids[start:]) == " Toast"
    assert ids.count(tiny_tokenizer.bos_token_id) == 1


def test_sas_frequency_rule():
    model = tiny_models.build_model("llama")
    tokenizer = tiny_models.build_tokenizer()
    sae = build_sae("jumprelu", layer=LAYER)
    tau = 0.6
    vector, stats = extract_sas(model, tokenizer, GROUPS, LAYER, sae, tau=tau, batch_size=2)

    positives, negatives = _manual_means(model, tokenizer, GROUPS)
    codes_pos = torch.stack([sae.encode(_per_token(model, tokenizer, group.prompt, answer)).mean(0)
                             for group in GROUPS for answer in group.positives])
    codes_neg = torch.stack([sae.encode(_per_token(model, tokenizer, group.prompt, answer)).mean(0)
                             for group in GROUPS for answer in group.negatives])
    frequent_pos = (codes_pos > 0).float().mean(0) >= tau
    frequent_neg = (codes_neg > 0).float().mean(0) >= tau
    expected = torch.zeros(D_SAE)
    expected[frequent_pos & ~frequent_neg] = codes_pos.mean(0)[frequent_pos & ~frequent_neg]
    expected[frequent_neg & ~frequent_pos] = -codes_neg.mean(0)[frequent_neg & ~frequent_pos]
    torch.testing.assert_close(vector, expected, atol=1e-4, rtol=1e-4)
    assert stats["positive_latents"] == int((frequent_pos & ~frequent_neg).sum())
    assert stats["shared_latents"] == int((frequent_pos & frequent_neg).sum())
    assert stats["positive_latents"] + stats["negative_latents"] > 0
    assert bool((vector[frequent_pos & frequent_neg] == 0).all())


def _per_token(model, tokenizer, prompt, answer):
    ids, start = encode_example(tokenizer, prompt, answer)
    with torch.no_grad():
        return model(torch.tensor([ids]), output_hidden_states=True).hidden_states[LAYER + 1][0, start:]


def test_sas_rejects_bad_tau():
    with pytest.raises(CultureBenchError, match="invalid tau 1.5"):
        extract_sas(tiny_models.build_model("llama"), tiny_models.build_tokenizer(), GROUPS, LAYER,
                    build_sae("jumprelu"), tau=1.5)


def test_groups_from_items_cloze_and_mcq(tiny_chat_tokenizer):
    items = [_item("localized"), _item("nonlocalized", answer=1)]
    assert select_items(items, country="spain", setting="localized") == [items[0]]
    assert len(select_items(items, country="spain", setting="both")) == 2

    cloze = groups_from_items(items[:1])
    assert cloze[0].prompt.endswith("Answer:")
    assert cloze[0].positives == (" Gazpacho",)
    assert cloze[0].negatives == (" Pozole", " Sopa de maní")
    with_western = groups_from_items(items[:1], include_western=True)
    assert " Clam chowder" in with_western[0].negatives

    mcq = groups_from_items(items[1:], format="mcq", tokenizer=tiny_chat_tokenizer)
    assert mcq[0].prompt.endswith("<|assistant|>")
    assert mcq[0].positives == ("\\boxed{2}",)
    assert mcq[0].negatives == ("\\boxed{1}", "\\boxed{4}")


def test_select_items_rejects_empty():
    with pytest.raises(CultureBenchError, match="no items for country 'egypt'"):
        select_items([_item("localized")], country="egypt", setting="localized")


def test_pairs_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"prompt": "Q?", "chosen": " A", "rejected": " B"}) + "\n\n", encoding="utf-8")
    assert groups_from_pairs(path) == [ContrastGroup("Q?", (" A",), (" B",))]
    path.write_text('{"prompt": "Q?"}\n', encoding="utf-8")
    with pytest.raises(CultureBenchError, match="pairs.jsonl:1"):
        groups_from_pairs(path)


@pytest.mark.slow
def test_cli_caa_and_sas_load_into_steered_hf(tmp_path, tiny_model_dir, capsys):
    build_sae("jumprelu", layer=LAYER).save_model(tmp_path / "sae")
    common = ["--country", "spain", "--setting", "nonlocalized", "--model", str(tiny_model_dir)]
    assert main(["extract", "--method", "caa", "--layer", str(LAYER), *common, "--out", str(tmp_path / "caa.safetensors")]) == 0
    assert main(["extract", "--method", "sas", "--sae", str(tmp_path / "sae"), "--tau", "0.5", *common,
                 "--out", str(tmp_path / "sas.safetensors")]) == 0

    caa = load_vector(tmp_path / "caa.safetensors")
    sas = load_vector(tmp_path / "sas.safetensors")
    assert (caa.method, caa.space, caa.layer, caa.country, caa.setting) == ("caa", "dense", LAYER, "spain", "nonlocalized")
    assert caa.extra["format"] == "cloze"
    assert int(caa.extra["positives"]) > 10
    assert (sas.method, sas.space, sas.layer) == ("sas", "sae", LAYER)
    assert sas.l0 > 0
    assert caa.training_data_sha256 == sas.training_data_sha256

    lm = SteeredHFLM(pretrained=str(tiny_model_dir), vector=f"{tmp_path / 'caa.safetensors'};{tmp_path / 'sas.safetensors'}",
                     multiplier="1;1", batch_size=2, device="cpu")
    assert len(lm.steering.files) == 2
    assert lm.multipliers == [1.0, 1.0]


def test_cli_requires_country_or_pairs(tmp_path, tiny_model_dir, capsys):
    code = main(["extract", "--method", "caa", "--model", str(tiny_model_dir), "--layer", "1", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "pass --country" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, "not json\n", '{"prompt": "Q?"}\n'])
def test_cli_checks_pairs_before_model(tmp_path, no_model_loading, capsys, content):
    pairs = tmp_path / "pairs.jsonl"
    if content is not None:
        pairs.write_text(content, encoding="utf-8")
    code = main(["extract", "--method", "caa", "--model", "default", "--layer", "1", "--pairs", str(pairs),
                 "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert "pairs.jsonl" in capsys.readouterr().err


def test_cli_checks_split_before_model(tmp_path, no_model_loading, capsys):
    code = main(["extract", "--method", "caa", "--model", "default", "--country", "spain", "--split", "tset",
                 "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert "invalid --split 'tset'" in capsys.readouterr().err

"""Near-duplicate removal: rapidfuzz thresholds, the number rule, greedy order and the embedding pass."""

from __future__ import annotations

import numpy as np
import pytest

from culturebench.builder.dedup import DedupSettings, fuzzy_similarity, normalize, numbers_in, remove_duplicates
from culturebench.builder.embeddings import EmbeddingModel
from culturebench.builder.records import Mcq
from culturebench.errors import CultureBenchError


def mcq(seed: str, scenario: str, texts: dict[str, str]) -> Mcq:
    options = [{"country": country, "text": text} for country, text in texts.items()]
    record = Mcq(seed, "english", "food", "breakfast", scenario, options, [c for c in texts if c != "western"])
    record.reindex()
    return record


def test_normalize_and_numbers():
    assert normalize("  Tea, with MILK! ") == "tea with milk"
    assert numbers_in("Call 108, not 102") == [108, 102]
    assert numbers_in("رقم ٣") == [3]


def test_fuzzy_scores_are_rapidfuzz_ratio():
    scores = fuzzy_similarity(["Tea with milk."], ["tea with milk", "coffee"])
    assert scores.shape == (1, 2)
    assert scores[0, 0] == 100.0
    assert scores[0, 1] < 50.0


def test_near_duplicate_option_removes_later_country():
    question = mcq("q1", "What do I drink?", {"usa": "Roast turkey with stuffing", "uk": "A roast turkey with stuffing",
                                             "canada": "Tourtière meat pie", "western": "Raclette"})
    output = remove_duplicates([question], DedupSettings())
    (record,) = output.records
    assert record["countries"] == ["usa", "canada"]
    assert [option["country"] for option in record["options"]] == ["usa", "canada", "western"]
    assert record["answers"] == {"usa": 0, "canada": 1}
    (drop,) = output.drops
    assert (drop.key, drop.reason) == ("q1/english/uk", "near_duplicate_option")
    assert "usa option" in drop.detail


def test_option_like_control_drops_country_not_control():
    question = mcq("q1", "What do I drink?", {"usa": "Coffee", "uk": "Milky tea", "canada": "Espresso at the bar",
                                             "western": "An espresso at the bar"})
    output = remove_duplicates([question], DedupSettings())
    assert output.records[0]["countries"] == ["usa", "uk"]
    assert output.drops[0].key == "q1/english/canada"


def test_different_numbers_are_never_duplicates():
    question = mcq("q1", "Which number do I call?", {"usa": "Call 911", "uk": "Call 999", "western": "Call 112"})
    output = remove_duplicates([question], DedupSettings(option_similarity=0.0))
    assert output.drops == []


def test_near_duplicate_question_drops_every_language():
    first = mcq("q1", "What do I eat for breakfast before work?", {"usa": "Cereal", "uk": "Toast", "western": "Croissant"})
    again = mcq("q2", "What do I eat for breakfast before work??", {"usa": "Bagel", "uk": "Porridge", "western": "Muesli"})
    other = Mcq(**{**again.__dict__, "language": "spanish"})
    output = remove_duplicates([first, again, other], DedupSettings())
    assert [record["seed"] for record in output.records] == ["q1"]
    assert [(drop.key, drop.reason) for drop in output.drops] == [("q2", "near_duplicate_question")]


def test_too_few_countries_after_removal():
    question = mcq("q1", "What do I drink?", {"usa": "Black coffee", "uk": "Black coffee!", "western": "Mint tea"})
    output = remove_duplicates([question], DedupSettings(min_countries=2))
    assert output.records == []
    assert [drop.reason for drop in output.drops] == ["near_duplicate_option", "too_few_countries"]


@pytest.mark.parametrize("threshold", [88.0, 90.0, 95.0])
def test_threshold_decides(threshold):
    # fuzz.ratio of the normalised pair is 89.3.
    question = mcq("q1", "x", {"usa": "A turkey dinner with the family", "uk": "Turkey dinner with family",
                               "western": "Fondue"})
    output = remove_duplicates([question], DedupSettings(option_similarity=threshold, min_countries=1))
    assert (len(output.drops) == 1) == (threshold <= 89.3)
    assert len(output.records) == 1


def test_chunked_matrix_matches_small_one(monkeypatch):
    scenarios = [f"Question number {word} about meals" for word in ("one", "two", "three", "four", "five")]
    mcqs = [mcq(f"q{index}", text, {"usa": "A", "uk": "B", "western": "C"}) for index, text in enumerate(scenarios)]
    whole = remove_duplicates(mcqs, DedupSettings(question_similarity=80.0))
    monkeypatch.setattr("culturebench.builder.dedup.CHUNK_ROWS", 2)
    chunked = remove_duplicates(mcqs, DedupSettings(question_similarity=80.0))
    assert chunked.drops == whole.drops
    assert chunked.records == whole.records
    assert whole.drops


def test_embedding_pass_uses_local_model(tiny_model_dir):
    model = EmbeddingModel(tiny_model_dir)
    texts = ["Tea with milk", "Coffee", "Tea with milk"]
    scores = model.similarity(texts, texts)
    assert scores.shape == (3, 3)
    assert scores[0, 2] == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(scores, scores.T, atol=1e-5)

    question = mcq("q1", "x", {"usa": "Tea with milk", "uk": "Coffee", "canada": "Hot chocolate", "western": "Juice"})
    settings = DedupSettings(embedding_model=tiny_model_dir, embedding_similarity=-1.0, min_countries=1)
    output = remove_duplicates([question], settings, model.similarity)
    # With a threshold of -1 every pair is similar, so the control stays and every country goes.
    reasons = [drop.reason for drop in output.drops]
    assert reasons == ["near_duplicate_option_embedding"] * 3 + ["too_few_countries"]
    assert all("score" in drop.detail for drop in output.drops[:3])


def test_embedding_model_must_be_local(tmp_path):
    with pytest.raises(CultureBenchError, match="not found"):
        EmbeddingModel(tmp_path / "absent")

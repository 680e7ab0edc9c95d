"""Measure, per decoder layer, how linearly decodable the country of a non-localized question is.

Non-localized questions never name their country: the country shows only through dialect and
situation. For each layer, a logistic-regression probe is trained on the residual stream (block
output) at the question's last token and scored with cross-validation grouped by seed question,
so a probe never sees another country's version of a test question. The probe is trained per
language group, and the table reports the mean accuracy over groups next to chance level.

Usage:
    python benchmarks/probe_country_layers.py [--model default] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from culturebench.loaders import load_items
from culturebench.models import load_model


def collect_states(model, tokenizer, questions: list[str], batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Return last-token and mean-pooled block outputs, each shaped (questions, layers, d_model)."""
    last, mean = [], []
    tokenizer.padding_side = "right"
    for start in range(0, len(questions), batch_size):
        encoded = tokenizer(questions[start:start + batch_size], return_tensors="pt", padding=True)
        with torch.no_grad():
            # The decoder stack alone: the 262k-entry output head is not needed for hidden states.
            hidden = model.model(**encoded, output_hidden_states=True).hidden_states[1:]
        stacked = torch.stack([layer.float() for layer in hidden], dim=1)  # (batch, layers, tokens, d_model)
        mask = encoded["attention_mask"].clone()
        lengths = mask.sum(dim=1)
        rows = torch.arange(len(lengths))
        last.append(stacked[rows, :, lengths - 1].numpy())
        # Position 0 is <bos>, whose residual norm is orders of magnitude larger than the rest.
        mask[:, 0] = 0
        weights = (mask / mask.sum(dim=1, keepdim=True))[:, None, :, None]
        mean.append((stacked * weights).sum(dim=2).numpy())
    return np.concatenate(last), np.concatenate(mean)


def probe_accuracy(features: np.ndarray, labels: list[str], groups: list[str]) -> float:
    folds = min(5, len(set(groups)))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    return float(cross_val_score(probe, features, labels, groups=groups, cv=GroupKFold(folds)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="preset, HF id or local folder")
    parser.add_argument("--json", default=None, help="also write the table to this JSON file")
    args = parser.parse_args()

    started = time.perf_counter()
    model, tokenizer = load_model(args.model, device="cpu")
    print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    items = [item for item in load_items() if item.variant == "nonlocalized"]
    languages = sorted({item.language for item in items})
    num_layers = model.config.num_hidden_layers
    rows = {layer: {"last": [], "mean": [], "norm": []} for layer in range(num_layers)}
    chance = []
    for language in languages:
        group = [item for item in items if item.language == language]
        last, mean = collect_states(model, tokenizer, [item.question for item in group])
        labels = [item.country for item in group]
        seeds = [item.seed_id or item.pair_id for item in group]
        chance.append(max(labels.count(country) for country in set(labels)) / len(labels))
        for layer in range(num_layers):
            rows[layer]["last"].append(probe_accuracy(last[:, layer], labels, seeds))
            rows[layer]["mean"].append(probe_accuracy(mean[:, layer], labels, seeds))
            rows[layer]["norm"].append(float(np.median(np.linalg.norm(last[:, layer], axis=-1))))

    print(f"model={args.model} languages={','.join(languages)} questions={len(items)} "
          f"chance={statistics.mean(chance):.3f} seconds={time.perf_counter() - started:.0f}")
    print("layer  last-token  mean-pooled  median-norm(last)")
    table = []
    for layer in range(num_layers):
        entry = {key: statistics.mean(values) for key, values in rows[layer].items()}
        table.append({"layer": layer, **entry})
        print(f"{layer:5d}  {entry['last']:10.3f}  {entry['mean']:11.3f}  {entry['norm']:17.0f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as sink:
            json.dump({"model": args.model, "languages": languages, "chance": statistics.mean(chance),
                       "layers": table}, sink, indent=2)


if __name__ == "__main__":
    main()

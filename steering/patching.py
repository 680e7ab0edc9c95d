"""Activation patching: find the decoder blocks that carry the country from a localized prompt.

For one pair of items (the localized and non-localized forms of a question, which share their
options and correct answer) and one decoder block ℓ:

1. run the localized prompt and read the output of block ℓ at its last token;
2. run the non-localized prompt with that state written over the output of block ℓ at its own
   last token;
3. score every option as a cloze continuation of the prompt (the `_ll` tasks' protocol) and
   turn the scores into a distribution over the options with a softmax.

`delta_correct` is P_patched(correct option) − P_non-localized(correct option), and
`delta_western` is the same change for the Western control option. `shift` is the total variation
distance between the patched and the unpatched option distributions: how much of anything the
patch moves, whether or not it helps. All three are averaged over pairs and reported with a
percentile bootstrap 95% CI. Capturing and patching use the steering hooks
(`culturebench.steering.hooks`), so the patched state enters the model exactly where a steering
vector would.

Cost: positions before the last prompt token never attend to it, so the prompt without its last
token runs once per prompt and its KV cache is reused. Each layer then runs only the last prompt
token and the option tokens, one row per option, and the vocabulary head projects only the
positions that predict option tokens.
"""

from __future__ import annotations

import copy
import inspect
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from culturebench import __version__
from culturebench.errors import CultureBenchError
from culturebench.items import Item
from culturebench.metrics import bootstrap_ci
from culturebench.prompts import apply_chat, cloze_continuations, cloze_prompt, encode_prompt
from culturebench.steering.extract import encode_example
from culturebench.steering.hooks import Intervention, steer
from culturebench.steering.layers import find_decoder_layout

logger = logging.getLogger(__name__)

KIND = "activation_patching"


def paired_items(items: Sequence[Item], *, country: str | None = None, language: str | None = None) -> list[tuple[Item, Item]]:
    """Return `(localized, non-localized)` pairs that share a `pair_id`, sorted by `pair_id`.

    Pairs whose two forms differ in option texts or in the correct answer are skipped with a
    warning, because the patched prompt is scored on the non-localized form's options.
    """
    forms: dict[str, dict[str, Item]] = {}
    for item in items:
        if country is not None and item.country != country:
            continue
        if language is not None and item.language != language:
            continue
        forms.setdefault(item.pair_id, {})[item.variant] = item
    pairs = []
    for pair_id in sorted(forms):
        localized = forms[pair_id].get("localized")
        nonlocalized = forms[pair_id].get("nonlocalized")
        if localized is None or nonlocalized is None:
            continue
        same_options = [o.text for o in localized.options] == [o.text for o in nonlocalized.options]
        if not same_options or localized.answer != nonlocalized.answer:
            logger.warning("pair %s skipped: its two forms differ in options or answer", pair_id)
            continue
        pairs.append((localized, nonlocalized))
    return pairs


@dataclass
class EncodedOptions:
    """A prompt split for caching, and its option continuations as token ids.

    `prefix` is the prompt without its last token, and `last` is that token. Continuation ids
    follow lm-eval's rule: tokenize prompt + continuation and keep the tokens after the prompt's.
    `characters` are the lengths that length normalisation divides by: each continuation without
    its leading spaces, which is the length of lm-eval's choice string in `acc_norm`.
    """

    prefix: list[int]
    last: int
    continuations: list[list[int]]
    characters: list[int]


def encode_options(tokenizer, prompt: str, continuations: Sequence[str]) -> EncodedOptions:
    """Tokenize `prompt` and each continuation as lm-eval's log-likelihood requests do."""
    prompt_ids = encode_prompt(tokenizer, prompt.rstrip())
    if len(prompt_ids) < 2:
        raise CultureBenchError(f"prompt {prompt!r} has fewer than 2 tokens; patching needs a prefix and a last token")
    option_ids = []
    for continuation in continuations:
        whole, start = encode_example(tokenizer, prompt, continuation)
        option_ids.append(whole[start:])
    return EncodedOptions(
        prefix=prompt_ids[:-1],
        last=prompt_ids[-1],
        continuations=option_ids,
        characters=[max(len(text.lstrip()), 1) for text in continuations],
    )


class OptionScorer:
    """Scores of a prompt's options under any set of interventions, reusing the prefix's KV cache.

    The forward that scores the options starts at the prompt's last token, so an intervention
    that edits position 0 of its block output edits the prompt's last token.
    """

    def __init__(self, model: nn.Module, encoded: EncodedOptions, *, normalise: bool = True) -> None:
        self.model = model
        self.encoded = encoded
        self.normalise = normalise
        device = next(model.parameters()).device
        rows = len(encoded.continuations)
        width = 1 + max(len(ids) for ids in encoded.continuations)
        prefix_length = len(encoded.prefix)

        self.input_ids = torch.zeros(rows, width, dtype=torch.long)
        self.attention_mask = torch.zeros(rows, prefix_length + width, dtype=torch.long)
        self.attention_mask[:, :prefix_length] = 1
        for row, ids in enumerate(encoded.continuations):
            self.input_ids[row, : 1 + len(ids)] = torch.tensor([encoded.last, *ids])
            self.attention_mask[row, prefix_length: prefix_length + 1 + len(ids)] = 1
        self.input_ids = self.input_ids.to(device)
        self.attention_mask = self.attention_mask.to(device)
        # Logits at positions 0..width-2 of the suffix predict the continuation tokens.
        self.logit_positions = torch.arange(width - 1, device=device)

        prefix = torch.tensor([encoded.prefix] * rows, device=device)
        with torch.no_grad():
            output = model(input_ids=prefix, use_cache=True, logits_to_keep=1)
        self.cache = _output_cache(output)
        self._cache_argument = _cache_argument(model)

    def scores(self, interventions: Sequence[Intervention] = ()) -> Tensor:
        """Return one score per option (summed log-probability, divided by characters when normalising)."""
        arguments = {self._cache_argument: copy.deepcopy(self.cache)}
        with torch.no_grad(), steer(self.model, interventions):
            logits = self.model(
                input_ids=self.input_ids, attention_mask=self.attention_mask, use_cache=True,
                logits_to_keep=self.logit_positions, **arguments,
            ).logits
        log_probs = logits.float().log_softmax(dim=-1)
        scores = []
        for row, ids in enumerate(self.encoded.continuations):
            targets = torch.tensor(ids, device=log_probs.device)
            total = log_probs[row, torch.arange(len(ids), device=log_probs.device), targets].sum()
            if self.normalise:
                total = total / self.encoded.characters[row]
            scores.append(total)
        return torch.stack(scores).cpu()

    def probabilities(self, interventions: Sequence[Intervention] = ()) -> Tensor:
        """Return the softmax of `scores` over the options."""
        return self.scores(interventions).softmax(dim=0)


def _cache_argument(model: nn.Module) -> str:
    # transformers 5 renamed the forward argument `past_key_values` to `cache`.
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _output_cache(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def capture_last_token(layers: Sequence[int], store: dict[int, Tensor]) -> list[Intervention]:
    """Make interventions that record row 0, position 0 of each block output into `store`."""

    def recorder(layer: int):
        def transform(hidden: Tensor) -> Tensor:
            store[layer] = hidden[0, 0].detach().clone()
            return hidden

        return transform

    return [Intervention(layer, recorder(layer)) for layer in layers]


def overwrite_first_position(state: Tensor):
    """Make the transform that writes `state` over position 0 of every row of a block output."""

    def transform(hidden: Tensor) -> Tensor:
        patched = hidden.clone()
        patched[:, 0] = state.to(device=hidden.device, dtype=hidden.dtype)
        return patched

    return transform


@dataclass
class PairEffect:
    """Option probabilities of one pair: unpatched forms and the non-localized form patched per layer."""

    pair_id: str
    correct: int
    western: int | None
    localized: list[float]
    nonlocalized: list[float]
    patched: dict[int, list[float]]


def patch_pair(
    model: nn.Module,
    tokenizer,
    localized: Item,
    nonlocalized: Item,
    layers: Sequence[int],
    *,
    normalise: bool = True,
    chat: bool = False,
) -> PairEffect:
    """Patch the localized prompt's last-token state into the non-localized prompt at each layer.

    Args:
        model: a Hugging Face causal LM.
        tokenizer: its tokenizer.
        localized: the localized form of the question.
        nonlocalized: the non-localized form (same options and answer).
        layers: decoder blocks to patch, one at a time.
        normalise: divide each option's log-likelihood by its length in characters (lm-eval's
            `acc_norm`) before the softmax.
        chat: wrap each prompt in the tokenizer's chat template, as lm-eval's
            `--apply_chat_template` does.
    """
    continuations = cloze_continuations(nonlocalized)

    def prompt(item: Item) -> str:
        text = cloze_prompt(item)
        return apply_chat(tokenizer, text) if chat else text

    source = OptionScorer(model, encode_options(tokenizer, prompt(localized), continuations), normalise=normalise)
    target = OptionScorer(model, encode_options(tokenizer, prompt(nonlocalized), continuations), normalise=normalise)

    states: dict[int, Tensor] = {}
    localized_probabilities = source.probabilities(capture_last_token(layers, states))
    patched = {}
    for layer in layers:
        intervention = Intervention(layer, overwrite_first_position(states[layer]))
        patched[layer] = target.probabilities([intervention]).tolist()
    return PairEffect(
        pair_id=nonlocalized.pair_id,
        correct=nonlocalized.answer,
        western=nonlocalized.western_index,
        localized=localized_probabilities.tolist(),
        nonlocalized=target.probabilities().tolist(),
        patched=patched,
    )


@dataclass
class LayerEffect:
    """Mean change over pairs when one layer is patched, with bootstrap 95% CIs."""

    layer: int
    delta_correct: float
    delta_correct_ci: tuple[float, float]
    delta_western: float | None
    delta_western_ci: tuple[float, float] | None
    shift: float
    shift_ci: tuple[float, float]
    p_correct: float
    p_western: float | None


@dataclass
class PatchingResult:
    """A per-layer patching curve and the unpatched probabilities it is measured against."""

    model: str
    country: str | None
    language: str | None
    normalise: bool
    chat: bool
    pairs: list[PairEffect]
    curve: list[LayerEffect]
    settings: dict = field(default_factory=dict)

    @property
    def best_layer(self) -> int:
        """The layer whose patch raises the correct option's probability most."""
        return max(self.curve, key=lambda effect: effect.delta_correct).layer

    def baseline(self) -> dict[str, float | None]:
        """Mean option probabilities of both forms without patching, and the shift between them."""
        values = {
            "p_correct_localized": _mean(p.localized[p.correct] for p in self.pairs),
            "p_correct_nonlocalized": _mean(p.nonlocalized[p.correct] for p in self.pairs),
        }
        values["shift_localized"] = _mean(_total_variation(p.localized, p.nonlocalized) for p in self.pairs)
        western = [p for p in self.pairs if p.western is not None]
        values["p_western_localized"] = _mean(p.localized[p.western] for p in western) if western else None
        values["p_western_nonlocalized"] = _mean(p.nonlocalized[p.western] for p in western) if western else None
        return values

    def to_dict(self) -> dict:
        """Return the JSON document `culturebench leaderboard` reads as an activation patching curve."""
        return {
            "kind": KIND,
            "model": self.model,
            "country": self.country,
            "language": self.language,
            "n": len(self.pairs),
            "scoring": "cloze, length-normalised" if self.normalise else "cloze, summed log-likelihood",
            "chat_template": self.chat,
            "layers": [effect.layer for effect in self.curve],
            "delta_correct": [effect.delta_correct for effect in self.curve],
            "delta_western": [effect.delta_western for effect in self.curve],
            "curve": [
                {
                    "layer": effect.layer,
                    "delta_correct": effect.delta_correct,
                    "delta_correct_ci": list(effect.delta_correct_ci),
                    "delta_western": effect.delta_western,
                    "delta_western_ci": list(effect.delta_western_ci) if effect.delta_western_ci else None,
                    "shift": effect.shift,
                    "shift_ci": list(effect.shift_ci),
                    "p_correct": effect.p_correct,
                    "p_western": effect.p_western,
                }
                for effect in self.curve
            ],
            "best_layer": self.best_layer,
            "baseline": self.baseline(),
            "pairs": [
                {
                    "pair_id": pair.pair_id,
                    "correct": pair.correct,
                    "western": pair.western,
                    "localized": pair.localized,
                    "nonlocalized": pair.nonlocalized,
                    "patched": {str(layer): values for layer, values in pair.patched.items()},
                }
                for pair in self.pairs
            ],
            "settings": self.settings,
            "culturebench_version": __version__,
        }


def _mean(values) -> float:
    return statistics.fmean(values)


def _total_variation(first: Sequence[float], second: Sequence[float]) -> float:
    return 0.5 * sum(abs(a - b) for a, b in zip(first, second))


def summarise(pairs: Sequence[PairEffect], layers: Sequence[int], *, seed: int = 0) -> list[LayerEffect]:
    """Average the per-pair changes at each layer and attach bootstrap 95% CIs."""
    curve = []
    for layer in layers:
        correct = [p.patched[layer][p.correct] - p.nonlocalized[p.correct] for p in pairs]
        western_pairs = [p for p in pairs if p.western is not None]
        western = [p.patched[layer][p.western] - p.nonlocalized[p.western] for p in western_pairs]
        shift = [_total_variation(p.patched[layer], p.nonlocalized) for p in pairs]
        curve.append(
            LayerEffect(
                layer=layer,
                delta_correct=_mean(correct),
                delta_correct_ci=bootstrap_ci(correct, statistics.fmean, seed=seed),
                delta_western=_mean(western) if western else None,
                delta_western_ci=bootstrap_ci(western, statistics.fmean, seed=seed) if western else None,
                shift=_mean(shift),
                shift_ci=bootstrap_ci(shift, statistics.fmean, seed=seed),
                p_correct=_mean(p.patched[layer][p.correct] for p in pairs),
                p_western=_mean(p.patched[layer][p.western] for p in western_pairs) if western_pairs else None,
            )
        )
    return curve


def patch_layers(
    model: nn.Module,
    tokenizer,
    pairs: Sequence[tuple[Item, Item]],
    *,
    layers: Sequence[int] | None = None,
    normalise: bool = True,
    chat: bool = False,
    model_id: str | None = None,
    seed: int = 0,
) -> PatchingResult:
    """Run activation patching over `pairs` at every layer in `layers` (default: all blocks).

    Example:
        >>> pairs = paired_items(load_items().filter(split="train"), country="morocco")[:16]
        >>> result = patch_layers(model, tokenizer, pairs)
        >>> result.best_layer
    """
    if not pairs:
        raise CultureBenchError("no localized/non-localized item pairs to patch")
    layout = find_decoder_layout(model)
    layers = list(range(layout.num_layers)) if layers is None else list(layers)
    for layer in layers:
        layout.check_layer(layer)

    effects = []
    for localized, nonlocalized in tqdm(pairs, desc="patching pairs", disable=None):
        effects.append(patch_pair(model, tokenizer, localized, nonlocalized, layers, normalise=normalise, chat=chat))
    countries = sorted({pair[1].country for pair in pairs})
    languages = sorted({pair[1].language for pair in pairs})
    return PatchingResult(
        model=model_id or str(getattr(model.config, "_name_or_path", "")),
        country=countries[0] if len(countries) == 1 else None,
        language=languages[0] if len(languages) == 1 else None,
        normalise=normalise,
        chat=chat,
        pairs=effects,
        curve=summarise(effects, layers, seed=seed),
    )

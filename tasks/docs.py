"""Build the lm-eval documents of a `culture_*` task from culturebench items.

Every task YAML names `load_docs` as its `custom_dataset`. lm-eval 0.4.13 calls it with the
task's `dataset_kwargs` (language, country, setting) merged with the run's metadata, which contains
the `--metadata` values and the `--model_args` pairs. The data source is, in order of precedence:

1. `--metadata '{"culturebench_data": "PATH"}'`;
2. the CULTUREBENCH_DATA environment variable;
3. the bundled benchmark.

PATH is anything `culturebench.loaders.load_items` reads. Tasks evaluate the `test` split; set
`culturebench_split` in `--metadata` to `train` or `all` to evaluate other items.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import datasets

from culturebench.errors import CultureBenchError
from culturebench.items import LANGUAGE_COUNTRIES, SPLITS, Item
from culturebench.loaders import default_source, load_items

logger = logging.getLogger(__name__)

DATA_KEY = "culturebench_data"
SPLIT_KEY = "culturebench_split"
EVAL_SPLIT = "test"
SETTING_VARIANTS: dict[str, tuple[str, ...]] = {
    "loc": ("localized",),
    "nonloc": ("nonlocalized",),
    "both": ("localized", "nonlocalized"),
}


def load_docs(
    language: str,
    setting: str,
    country: str | None = None,
    **metadata: Any,
) -> datasets.DatasetDict:
    """Return `{"test": Dataset}` with the documents of one task.

    Args:
        language: language group, e.g. `arabic`.
        setting: `loc`, `nonloc` or `both` (which variants to include).
        country: one country id of the group, or None for every country.
        **metadata: lm-eval's metadata; `culturebench_data` and `culturebench_split` are read.
    """
    if language not in LANGUAGE_COUNTRIES:
        raise CultureBenchError(f"unknown language {language!r}; expected one of {sorted(LANGUAGE_COUNTRIES)}")
    if setting not in SETTING_VARIANTS:
        raise CultureBenchError(f"unknown setting {setting!r}; expected one of {sorted(SETTING_VARIANTS)}")
    source = metadata.get(DATA_KEY) or default_source()
    split = metadata.get(SPLIT_KEY) or EVAL_SPLIT
    if split != "all" and split not in SPLITS:
        raise CultureBenchError(f"invalid {SPLIT_KEY}={split!r}; expected one of {[*SPLITS, 'all']}")

    dataset = load_source(str(source) if source else None).filter(
        language=language, country=country, split=None if split == "all" else split
    )
    items = [item for item in dataset if item.variant in SETTING_VARIANTS[setting]]
    if not items:
        raise CultureBenchError(
            f"no {split!r} items for language={language!r}, country={country!r}, setting={setting!r} "
            f"in {dataset.origin}; pick tasks the data covers (`culturebench data stats` lists them) "
            f"or set {DATA_KEY} in --metadata"
        )
    # Keep the two variants of a question next to each other, so `--limit` samples both.
    items.sort(key=lambda item: (item.pair_id, item.variant, item.id))
    logger.info("%d items for %s/%s/%s from %s", len(items), language, country or "all", setting, dataset.origin)
    return datasets.DatasetDict({EVAL_SPLIT: datasets.Dataset.from_list([item_to_doc(item) for item in items])})


@functools.lru_cache(maxsize=4)
def load_source(source: str | None):
    """Load (once per process and source) the items of `source`; None means the bundled benchmark."""
    return load_items(source)


def item_to_doc(item: Item) -> dict[str, Any]:
    """Return the lm-eval document of an item: `Item.to_dict()`, which Arrow stores as is."""
    return item.to_dict()


def item_from_doc(doc: dict[str, Any]) -> Item:
    """Rebuild the item of an lm-eval document."""
    return Item.from_dict(doc)


def option_texts(doc: dict[str, Any]) -> list[str]:
    """Return the option texts of a document in prompt order."""
    return [option["text"] for option in doc["options"]]

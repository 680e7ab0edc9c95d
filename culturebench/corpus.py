"""Build the multilingual SAE training corpus offline and split it into train and held-out text.

The corpus mixes three sources (see docs/sae.md for licenses): the model's own sampled
continuations of everyday-life prompts, the text of the bundled benchmark seeds, and Debian
text packages. Documents are deduplicated, capped per language so no language dominates, and
assigned to the held-out split by a hash of their text, so rebuilding gives the same split.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

from culturebench.atomic_files import write_text_atomic
from culturebench.corpus_sources import DEBIAN_SOURCES, Document, fetch_debian_packages, read_debian_source, read_seed_files

logger = logging.getLogger(__name__)

SEED_DIR = Path(__file__).resolve().parent / "data" / "seeds"
SAMPLES_NAME = "samples.jsonl"
MANIFEST_NAME = "manifest.json"


def split_of(text: str, heldout_fraction: float) -> str:
    """Return "heldout" or "train" for a document, decided by a hash of its text."""
    bucket = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "heldout" if bucket < heldout_fraction else "train"


def read_samples(path: Path) -> list[Document]:
    """Read the model-sampled continuations written by `generate_continuations`."""
    if not path.exists():
        return []
    documents = []
    with path.open(encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            documents.append(Document(record["text"], record["language"], "model-samples"))
    return documents


def cap_per_language(documents: list[Document], max_chars: int) -> list[Document]:
    """Keep documents in order until each language reaches `max_chars` characters.

    Sources are interleaved first (round robin per language), so a cap trims every source of a
    language in proportion instead of dropping the last source entirely.
    """
    by_key: dict[tuple[str, str], list[Document]] = {}
    for document in documents:
        by_key.setdefault((document.language, document.source), []).append(document)
    interleaved: list[Document] = []
    queues = [list(reversed(queue)) for queue in by_key.values()]
    while any(queues):
        for queue in queues:
            if queue:
                interleaved.append(queue.pop())
    used: Counter = Counter()
    kept = []
    for document in interleaved:
        if used[document.language] + len(document.text) > max_chars:
            continue
        used[document.language] += len(document.text)
        kept.append(document)
    return kept


def build_corpus(out_dir: Path, *, debian_work_dir: Path | None, max_chars_per_language: int,
                 heldout_fraction: float, tokenizer=None, sampling: dict | None = None) -> dict:
    """Write train.jsonl, heldout.jsonl and manifest.json to `out_dir`; return the manifest.

    Args:
        out_dir: corpus folder. Model samples are read from `out_dir/samples.jsonl` when present.
        debian_work_dir: where Debian packages are downloaded and unpacked; None skips them.
        max_chars_per_language: cap on the characters of each language.
        heldout_fraction: share of documents kept out of training, chosen by text hash.
        tokenizer: when given, the manifest counts tokens per language, source and split.
        sampling: the sampling settings of the model samples, recorded in the manifest.
    """
    documents = read_samples(out_dir / SAMPLES_NAME)
    documents += list(read_seed_files(SEED_DIR))
    packages: dict[str, dict] = {}
    if debian_work_dir is not None:
        packages = fetch_debian_packages([source.package for source in DEBIAN_SOURCES], debian_work_dir)
        for source in DEBIAN_SOURCES:
            documents += list(read_debian_source(source, packages[source.package]["root"]))

    unique = list({document.text: document for document in documents}.values())
    kept = cap_per_language(unique, max_chars_per_language)
    splits: dict[str, list[Document]] = {"train": [], "heldout": []}
    for document in kept:
        splits[split_of(document.text, heldout_fraction)].append(document)

    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict] = {}
    for split, split_documents in splits.items():
        _write_jsonl(out_dir / f"{split}.jsonl", split_documents)
        counts[split] = _count(split_documents, tokenizer)
    manifest = {
        "documents": {split: len(split_documents) for split, split_documents in splits.items()},
        "counts": counts,
        "max_chars_per_language": max_chars_per_language,
        "heldout_fraction": heldout_fraction,
        "sampling": sampling,
        "debian_packages": {
            name: {"version": info["version"], "deb": info["deb"],
                   "license": sorted({source.license for source in DEBIAN_SOURCES if source.package == name})}
            for name, info in packages.items()
        },
    }
    write_text_atomic(out_dir / MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def _count(documents: list[Document], tokenizer) -> dict:
    chars: Counter = Counter()
    tokens: Counter = Counter()
    for document in documents:
        key = f"{document.language}/{document.source}"
        chars[key] += len(document.text)
        if tokenizer is not None:
            tokens[key] += len(tokenizer(document.text, add_special_tokens=False).input_ids)
    result = {"chars": dict(sorted(chars.items())), "total_chars": sum(chars.values())}
    if tokenizer is not None:
        result["tokens"] = dict(sorted(tokens.items()))
        result["total_tokens"] = sum(tokens.values())
    return result


def _write_jsonl(path: Path, documents: list[Document]) -> None:
    lines = (json.dumps({"text": d.text, "language": d.language, "source": d.source}, ensure_ascii=False)
             for d in documents)
    write_text_atomic(path, "\n".join(lines) + "\n")

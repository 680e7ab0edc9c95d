"""Load benchmark items from the bundled seeds, local files or the Deep-Culture-Lense layout.

`load_items(source)` accepts:

- None or "bundled": the benchmark shipped with culturebench;
- a `.jsonl`, `.json`, `.parquet` or `.csv` file in culturebench's item schema (`Item.to_dict`);
- a `.yaml` seed file, or a folder of them (a seed file's `countries` list declares countries
  and languages beyond the built-in table, and validation accepts them for that source);
- a Deep-Culture-Lense copy: a folder laid out like the hub repository, or one parquet/jsonl file;
- `hf:OWNER/NAME`: a dataset on the Hugging Face hub in the Deep-Culture-Lense layout.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from culturebench import bundled, deep_culture_lense
from culturebench.atomic_files import atomic_path, check_output_file, write_text_atomic
from culturebench.errors import CultureBenchError, ValidationError
from culturebench.items import LANGUAGE_COUNTRIES, Dataset, Item, extend_groups
from culturebench.validation import Groups, Problem, check_items, raise_for_problems

logger = logging.getLogger(__name__)

ITEM_FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
EXPORT_FORMATS = ("jsonl", "parquet", "deep-culture-lense")
DATA_ENV = "CULTUREBENCH_DATA"


def load_items(source: str | Path | None = None, *, skip_invalid: bool = False) -> Dataset:
    """Load and validate items from `source` (see the module docstring for accepted forms).

    Invalid rows raise `ValidationError` naming file, row and field; with `skip_invalid=True`
    they are dropped instead, each one logged and listed in `Dataset.skipped`.
    """
    try:
        origin, triples, problems, groups = _read(source)
    except UnicodeDecodeError as error:
        raise ValidationError(
            f"{source}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}); "
            "re-save the file as UTF-8"
        ) from error
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ValidationError(f"{source}: invalid JSON or YAML ({error}); fix the syntax and retry") from error
    problems = problems + check_items(triples, groups)
    if problems and not skip_invalid:
        raise_for_problems(problems)

    bad_rows = {(problem.origin, problem.row) for problem in problems}
    for problem in problems:
        logger.warning("skipping invalid row: %s", problem)
    items = [item for item, item_origin, row in triples if (item_origin, row) not in bad_rows]
    return Dataset(items=items, origin=origin, skipped=[str(problem) for problem in problems])


def default_source() -> str | None:
    """Return the data source named by the CULTUREBENCH_DATA variable, or None for bundled data."""
    return os.environ.get(DATA_ENV) or None


def _read(source: str | Path | None) -> tuple[str, list[tuple[Item, str, str]], list[Problem], Groups]:
    """Return origin, `(item, origin, row)` triples, parse problems and the language groups to validate with."""
    if source is None or str(source) == "bundled":
        triples, groups = _read_seed_files(bundled.seed_files())
        return "bundled", triples, [], groups

    text = str(source)
    if text.startswith("hf:"):
        dataset_dict = deep_culture_lense.load_hub(text[3:])
        triples, problems = deep_culture_lense.rows_to_items(dataset_dict, text)
        return text, triples, problems, LANGUAGE_COUNTRIES

    path = Path(source).expanduser()
    if not path.exists():
        raise CultureBenchError(
            f"data source {text!r} not found; pass an existing file or folder, 'bundled', or hf:OWNER/NAME"
        )
    if path.is_dir():
        return _read_folder(path)
    if path.suffix in (".yaml", ".yml"):
        triples, groups = _read_seed_files([path])
        return str(path), triples, [], groups
    if path.suffix not in ITEM_FILE_SUFFIXES:
        raise CultureBenchError(
            f"unsupported data file {text!r}; expected one of {list(ITEM_FILE_SUFFIXES)} or .yaml seeds"
        )
    records = list(_records(path))
    if records and isinstance(records[0][1], dict) and deep_culture_lense.is_layout(list(records[0][1])):
        triples, problems = deep_culture_lense.rows_to_items(deep_culture_lense.load_local(path), str(path))
        return str(path), triples, problems, LANGUAGE_COUNTRIES
    triples, problems = _records_to_items(records, str(path))
    return str(path), triples, problems, LANGUAGE_COUNTRIES


def _read_seed_files(paths: list[Path]) -> tuple[list[tuple[Item, str, str]], Groups]:
    triples: list[tuple[Item, str, str]] = []
    declared: dict[str, list[str]] = {}
    for path in paths:
        seed_file = bundled.read_seed_file(path)
        triples.extend((item, str(path), item.id) for item in seed_file.items)
        declared.setdefault(seed_file.language, []).extend(seed_file.countries)
    return triples, extend_groups(declared)


def _read_folder(path: Path) -> tuple[str, list[tuple[Item, str, str]], list[Problem], Groups]:
    seeds = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
    if seeds:
        triples, groups = _read_seed_files(seeds)
        return str(path), triples, [], groups
    files = sorted(p for p in path.rglob("*") if p.suffix in ITEM_FILE_SUFFIXES and p.is_file())
    if not files:
        raise CultureBenchError(f"no data files ({', '.join(ITEM_FILE_SUFFIXES)}, .yaml) found in folder {str(path)!r}")
    first_record = next((record for _, record in _records(files[0])), {})
    if deep_culture_lense.is_layout(list(first_record)):
        triples, problems = deep_culture_lense.rows_to_items(deep_culture_lense.load_local(path), str(path))
        return str(path), triples, problems, LANGUAGE_COUNTRIES
    triples: list[tuple[Item, str, str]] = []
    problems: list[Problem] = []
    for file in files:
        file_triples, file_problems = _records_to_items(list(_records(file)), str(file))
        triples.extend(file_triples)
        problems.extend(file_problems)
    return str(path), triples, problems, LANGUAGE_COUNTRIES


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield `(row label, record)` pairs; row labels are 1-based line numbers for text files."""
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield str(number), json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValidationError(f"{path}: row {number}: invalid JSON ({error.msg})") from error
    elif path.suffix == ".json":
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        records = document.get("items", document) if isinstance(document, dict) else document
        if not isinstance(records, list):
            raise ValidationError(f"{path}: expected a list of items or {{'items': [...]}}")
        for number, record in enumerate(records, start=1):
            yield str(number), record
    else:
        import pandas as pd

        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str, keep_default_na=False)
        # CSV rows are numbered as a spreadsheet shows them: the header is row 1.
        offset = 2 if path.suffix == ".csv" else 0
        for index, record in enumerate(frame.to_dict(orient="records")):
            yield str(index + offset), record


def _records_to_items(
    records: list[tuple[str, dict[str, Any]]], origin: str
) -> tuple[list[tuple[Item, str, str]], list[Problem]]:
    triples: list[tuple[Item, str, str]] = []
    problems: list[Problem] = []
    for row, record in records:
        try:
            triples.append((_record_to_item(record), origin, row))
        except _FieldError as error:
            problems.append(Problem(origin, row, error.field, error.message))
    return triples, problems


REQUIRED_FIELDS = ("id", "language", "country", "variant", "question", "options", "answer")


def _record_to_item(record: dict[str, Any]) -> Item:
    if not isinstance(record, dict):
        raise _FieldError("*", f"expected an object, got {type(record).__name__}")
    for field in REQUIRED_FIELDS:
        value = record.get(field)
        if value is None or (isinstance(value, str) and field != "answer" and not value.strip()):
            raise _FieldError(field, "is missing or empty")
    record = dict(record)
    for field in ("options", "paraphrases"):
        value = record.get(field)
        if isinstance(value, str):
            try:
                record[field] = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as error:
                raise _FieldError(field, f"is not a JSON list ({error.msg})") from error
        elif value is not None and not isinstance(value, list):
            record[field] = list(value)
    options = record["options"]
    if not isinstance(options, list) or not all(isinstance(o, (dict, str)) for o in options):
        raise _FieldError("options", "must be a list of {text, country} objects or strings")
    try:
        record["answer"] = int(record["answer"])
    except (TypeError, ValueError) as error:
        raise _FieldError("answer", f"must be an integer option index, got {record['answer']!r}") from error
    record.setdefault("pair_id", record["id"])
    record["pair_id"] = str(record.get("pair_id") or record["id"])
    for field in ("topic", "subtopic", "gold_open", "seed_id"):
        record[field] = str(record.get(field) or "")
    record.setdefault("split", "test")
    try:
        return Item.from_dict(record)
    except (KeyError, TypeError) as error:
        raise _FieldError("options", f"malformed option ({error})") from error


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def export_items(dataset: Dataset, out: str | Path, format: str) -> Path:
    """Write `dataset` to `out` as jsonl, parquet, or a Deep-Culture-Lense folder; return the path."""
    out = check_export_target(out, format)
    if format == "jsonl":
        lines = "".join(json.dumps(item.to_dict(), ensure_ascii=False) + "\n" for item in dataset)
        write_text_atomic(out, lines)
        return out

    import pandas as pd

    if format == "parquet":
        frame = pd.DataFrame([item.to_dict() for item in dataset])
        _atomic_write_frame(frame, out)
        return out

    for split in ("train", "test"):
        rows = [deep_culture_lense.item_to_row(item) for item in dataset if item.split == split]
        if rows:
            _atomic_write_frame(pd.DataFrame(rows), _split_file(out, split))
    return out


def check_export_target(out: str | Path, format: str) -> Path:
    """Check that `export_items` can write `out` in `format`, before any data is read; return `out` as a Path.

    jsonl and parquet need a file path. The Deep-Culture-Lense layout needs a folder path
    (existing or not) whose `data/` split files can be written.

    Raises:
        CultureBenchError: for an unknown format or a path that cannot be written.
    """
    if format not in EXPORT_FORMATS:
        raise CultureBenchError(f"unknown export format {format!r}; expected one of {list(EXPORT_FORMATS)}")
    out = Path(out)
    if format != "deep-culture-lense":
        return check_output_file(out)
    if out.exists() and not out.is_dir():
        raise CultureBenchError(f"--out {out} is a file, but the {format} layout is a folder; give a folder path")
    for split in ("train", "test"):
        check_output_file(_split_file(out, split))
    return out


def _split_file(folder: Path, split: str) -> Path:
    # The hub repository keeps one parquet file per split under data/.
    return folder / "data" / f"{split}-00000-of-00001.parquet"


def _atomic_write_frame(frame: Any, path: Path) -> None:
    with atomic_path(path, fsync=False) as temporary:
        frame.to_parquet(temporary, index=False)

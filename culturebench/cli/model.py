"""`culturebench model`: list presets, show one, print the local path lm-eval should load."""

from __future__ import annotations

import json
from dataclasses import asdict

from culturebench.errors import CultureBenchError


def register(subparsers) -> None:
    parser = subparsers.add_parser("model", help="model presets and the offline model cache")
    commands = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    path = commands.add_parser("path", help="print what from_pretrained should load (builds the cache on first use)")
    path.add_argument("name", nargs="?", default="default", help="preset name or local model folder (default: default)")
    path.set_defaults(func=run_path)

    info = commands.add_parser("info", help="show a preset's layers, steering layer and SAE")
    info.add_argument("name", nargs="?", default=None, help="preset name (default: list every preset)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)


def run_path(args) -> int:
    from pathlib import Path

    from culturebench.model_presets import PRESETS, get_preset
    from culturebench.models import resolve_model_path

    if get_preset(args.name) is None:
        folder = Path(args.name).expanduser()
        # Path("") is the current folder, so an empty name must not pass as a folder.
        if not args.name.strip() or not folder.is_dir():
            raise CultureBenchError(
                f"unknown model {args.name!r}: it is neither a preset nor an existing folder; choose a preset "
                f"({', '.join(PRESETS)}) or pass a local model folder. Hugging Face ids need no resolving: "
                "pass them to from_pretrained as they are"
            )
        if not (folder / "config.json").is_file():
            raise CultureBenchError(
                f"folder {args.name} has no config.json, so it is not a Hugging Face model folder; pass a folder "
                "written by save_pretrained"
            )
    print(resolve_model_path(args.name))
    return 0


def run_info(args) -> int:
    from culturebench.model_cache import is_current, model_cache_path
    from culturebench.model_presets import PRESETS, get_preset

    if args.name is None:
        presets = list(PRESETS.values())
    else:
        preset = get_preset(args.name)
        if preset is None:
            raise CultureBenchError(f"unknown preset {args.name!r}; choose one of: {', '.join(PRESETS)}")
        presets = [preset]

    entries = []
    for preset in presets:
        entry = asdict(preset)
        entry["hookpoint"] = preset.hookpoint
        if preset.offline:
            folder = model_cache_path(preset)
            entry["cache"] = str(folder)
            entry["cached"] = (folder / "config.json").is_file() and _marker_matches(preset, folder, is_current)
        entries.append(entry)

    if args.json:
        print(json.dumps(entries if args.name is None else entries[0], indent=2))
        return 0
    for entry in entries:
        print(entry["name"])
        for key, value in entry.items():
            if key != "name":
                print(f"  {key}: {value}")
    return 0


def _marker_matches(preset, folder, is_current) -> bool:
    from culturebench.model_cache import expected_marker
    from culturebench.model_presets import gguf_source

    try:
        return is_current(folder, expected_marker(preset, gguf_source(preset)))
    except CultureBenchError:
        return False

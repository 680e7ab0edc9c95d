"""`culturebench vector`: inspect steering vector files and import raw `.pt` tensors."""

from __future__ import annotations

import json
from pathlib import Path

from culturebench.errors import CultureBenchError


def register(subparsers) -> None:
    parser = subparsers.add_parser("vector", help="inspect or import steering vector files")
    commands = parser.add_subparsers(dest="vector_command", metavar="ACTION", required=True)

    inspect = commands.add_parser("inspect", help="show a vector's method, layer, space, norm, L0, top entries and metadata")
    inspect.add_argument("file", type=Path, help="a culturebench .safetensors vector file")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument("--top-k", type=int, default=10, help="entries with the largest |weight| to list (default 10)")
    inspect.set_defaults(func=run_inspect)

    raw = commands.add_parser(
        "import",
        help="wrap a raw .pt tensor (read with torch.load(weights_only=True)) in a vector file",
        description="A raw tensor carries no metadata, so give it here; the file is checked against the model.",
    )
    raw.add_argument("file", type=Path, help="a .pt file holding one 1-D tensor (or a dict with one tensor)")
    raw.add_argument("--method", required=True, choices=("caa", "sas", "bipo", "yapo", "import"))
    raw.add_argument("--layer", required=True, type=int, help="decoder block the vector steers, 0-based")
    raw.add_argument("--model", required=True, help="preset name, Hugging Face id or local folder the vector is for")
    raw.add_argument("--space", required=True, choices=("dense", "sae"))
    raw.add_argument("--sae", default=None, help="SAE of an SAE-space vector: sae-lens folder, params.npz or RELEASE/SAE_ID")
    raw.add_argument("--hidden-size", type=int, default=None,
                     help="model hidden size, to check the vector without loading the model (default: read the model config)")
    raw.add_argument("--country", default=None)
    raw.add_argument("--setting", default=None, choices=("localized", "nonlocalized", "both"))
    raw.add_argument("--default-multiplier", type=float, default=1.0)
    raw.add_argument("--out", required=True, type=Path, help="output .safetensors file")
    raw.set_defaults(func=run_import)


def summarize(vector, top_k: int = 10) -> dict:
    """Return the facts `vector inspect` shows: metadata, norm, L0 and the top-|weight| entries."""
    values = vector.vector.float()
    count = min(top_k, values.numel())
    order = values.abs().topk(count).indices.tolist() if count else []
    metadata = vector.metadata()
    metadata.pop("format", None)
    metadata.pop("format_version", None)
    if "sae" in metadata:
        metadata["sae"] = json.loads(metadata["sae"])
    if "extra" in metadata:
        metadata["extra"] = json.loads(metadata["extra"])
    return {
        "method": vector.method,
        "layer": vector.layer,
        "hookpoint": vector.hookpoint,
        "space": vector.space,
        "size": values.numel(),
        "norm": vector.norm,
        "l0": vector.l0,
        "top": [{"index": index, "weight": float(values[index])} for index in order if values[index] != 0],
        "metadata": metadata,
    }


def run_inspect(args) -> int:
    from culturebench.steering.vectors import load_vector

    summary = summarize(load_vector(args.file), args.top_k)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    unit = "latent" if summary["space"] == "sae" else "dimension"
    print(f"{args.file}")
    print(f"  method   {summary['method']}")
    print(f"  layer    {summary['layer']} ({summary['hookpoint']})")
    print(f"  space    {summary['space']} ({summary['size']} entries)")
    print(f"  norm     {summary['norm']:.4f}")
    print(f"  L0       {summary['l0']}")
    print(f"  top {len(summary['top'])} by |weight|:")
    for entry in summary["top"]:
        print(f"    {unit} {entry['index']:>7}  {entry['weight']:+.4f}")
    print("  metadata:")
    for key, value in summary["metadata"].items():
        if isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        print(f"    {key}: {value}")
    return 0


def run_import(args) -> int:
    from culturebench.steering.identity import canonical_model_id
    from culturebench.steering.imports import read_raw_tensor
    from culturebench.steering.vectors import SteeringVector, save_vector

    tensor = read_raw_tensor(args.file)
    hidden_size = args.hidden_size if args.hidden_size is not None else _hidden_size(args.model)
    source = None
    if args.space == "sae":
        if args.sae is None:
            raise CultureBenchError("an SAE-space vector needs --sae (the SAE it was trained with)")
        from culturebench.steering.sae import hook_name_to_layer, load_sae

        _, source = load_sae(args.sae)
        if source.d_in != hidden_size:
            raise CultureBenchError(f"SAE {args.sae} reads size {source.d_in} but model {args.model} has hidden size {hidden_size}")
        if source.hook_name and hook_name_to_layer(source.hook_name) != args.layer:
            raise CultureBenchError(f"SAE {args.sae} reads {source.hook_name}, not layer {args.layer}")
    elif tensor.shape[0] != hidden_size:
        raise CultureBenchError(f"{args.file} has {tensor.shape[0]} entries but model {args.model} has hidden size {hidden_size}")

    vector = SteeringVector(
        vector=tensor, method=args.method, layer=args.layer, space=args.space,
        model_id=canonical_model_id(args.model), hookpoint=f"model.layers.{args.layer}", sae=source,
        default_multiplier=args.default_multiplier, country=args.country, setting=args.setting,
        extra={"imported_from": args.file.name},
    )
    path = save_vector(vector, args.out)
    print(f"wrote {path} ({args.space}, {tensor.shape[0]} entries, layer {args.layer})")
    return 0


def _hidden_size(model: str) -> int:
    from transformers import AutoConfig

    from culturebench.models import resolve_model_path

    try:
        config = AutoConfig.from_pretrained(resolve_model_path(model))
    except OSError as error:
        raise CultureBenchError(f"could not read the config of model {model!r} ({error}); pass --hidden-size") from error
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(config.hidden_size)

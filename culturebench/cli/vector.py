"""`culturebench vector`: inspect and compare steering vector files, import raw `.pt` tensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

from culturebench.errors import CultureBenchError


def register(subparsers) -> None:
    parser = subparsers.add_parser("vector", help="inspect, compare or import steering vector files")
    commands = parser.add_subparsers(dest="vector_command", metavar="ACTION", required=True)

    inspect = commands.add_parser("inspect", help="show a vector's method, layer, space, norm, L0, top entries and metadata")
    inspect.add_argument("file", type=Path, help="a culturebench .safetensors vector file")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument("--top-k", type=int, default=10, help="entries with the largest |weight| to list (default 10)")
    inspect.set_defaults(func=run_inspect)

    compare = commands.add_parser(
        "compare",
        help="cosine table, top latents and support overlap of several vector files",
        description=(
            "Cosine similarity of every pair in hidden space (SAE-space vectors decoded as v·W_dec) and, "
            "for SAE-space vectors of the same SAE, in latent space; the top latents of each SAE-space "
            "vector and the overlap of their supports."
        ),
    )
    compare.add_argument("files", nargs="+", type=Path, help="culturebench .safetensors vector files")
    compare.add_argument("--sae", default=None,
                         help="SAE that decodes SAE-space vectors (default: the source each file records)")
    compare.add_argument("--no-decode", action="store_true",
                         help="do not load SAEs: SAE-space vectors get no hidden-space cosine")
    compare.add_argument("--top-k", type=int, default=10, help="latents with the largest |weight| to list (default 10)")
    compare.add_argument("--json", action="store_true", help="print JSON instead of text")
    compare.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    compare.set_defaults(func=run_compare)

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
                     help="model hidden size (default: the preset's, else the model's local config)")
    raw.add_argument("--num-layers", type=int, default=None,
                     help="number of decoder blocks, to check --layer (default: the preset's, else the model's "
                          "local config)")
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


def run_compare(args) -> int:
    from culturebench.steering.vector_compare import NamedVector, compare_vectors
    from culturebench.steering.vectors import load_vector

    if args.top_k < 0:
        raise CultureBenchError(f"invalid --top-k {args.top_k}: need 0 or more")
    saes: dict[str, object] = {}
    vectors = []
    for path in args.files:
        vector = load_vector(path)
        sae = None
        if vector.space == "sae" and not args.no_decode:
            sae = _decoding_sae(vector, args.sae, saes, path)
        vectors.append(NamedVector(_unique_name(path, vectors), vector, sae))
    comparison = compare_vectors(vectors, top_k=args.top_k)

    if args.out is not None:
        from culturebench.atomic_files import write_json_atomic

        write_json_atomic(args.out, comparison)
    if args.json:
        print(json.dumps(comparison, ensure_ascii=False, indent=2))
    else:
        _print_comparison(comparison)
    return 0


def _unique_name(path: Path, earlier: list) -> str:
    names = {item.name for item in earlier}
    name = path.stem
    return name if name not in names else str(path)


def _decoding_sae(vector, override: str | None, loaded: dict, path: Path):
    from culturebench.steering.sae import load_sae, recorded_sae_spec

    spec = override or recorded_sae_spec(vector.sae)
    if spec not in loaded:
        try:
            loaded[spec] = load_sae(spec)
        except CultureBenchError as error:
            raise CultureBenchError(f"cannot decode {path}: {error}; pass --sae SPEC or --no-decode") from error
    sae, source = loaded[spec]
    if source.sha256 != vector.sae.sha256:
        raise CultureBenchError(
            f"{path} was made with SAE weights sha256 {vector.sae.sha256[:12]} but {spec} has {source.sha256[:12]}; "
            "pass the SAE it was made with as --sae, or --no-decode"
        )
    return sae


def _print_comparison(comparison: dict) -> None:
    names = [entry["name"] for entry in comparison["vectors"]]
    print("vectors:")
    for index, entry in enumerate(comparison["vectors"]):
        facts = f"{entry['method']}, layer {entry['layer']}, {entry['space']}, norm {entry['norm']:.4f}, L0 {entry['l0']}"
        if entry["country"]:
            facts += f", {entry['country']} {entry['setting'] or ''}".rstrip()
        print(f"  [{index}] {entry['name']}: {facts}")
    for key, title in (("cosine_hidden", "cosine in hidden space (SAE vectors decoded)"),
                       ("cosine_latent", "cosine in SAE latent space (same SAE only)")):
        matrix = comparison[key]
        if all(value is None for row in matrix for value in row):
            continue
        print(f"{title}:")
        print("       " + "".join(f"{f'[{index}]':>8}" for index in range(len(names))))
        for index, row in enumerate(matrix):
            cells = "".join(f"{value:>8.3f}" if value is not None else f"{'-':>8}" for value in row)
            print(f"  {f'[{index}]':<5}{cells}")
    for name, entries in comparison["top_latents"].items():
        print(f"top latents of {name}:")
        for entry in entries:
            print(f"    latent {entry['index']:>7}  {entry['weight']:+.4f}")
    for overlap in comparison["support_overlap"]:
        first, second = overlap["pair"]
        jaccard = "-" if overlap["jaccard"] is None else f"{overlap['jaccard']:.3f}"
        print(f"support overlap {first} / {second}: sizes {overlap['sizes'][0]} and {overlap['sizes'][1]}, "
              f"{overlap['shared']} shared ({overlap['shared_same_sign']} with the same sign), Jaccard {jaccard}")


def run_import(args) -> int:
    import torch

    from culturebench.atomic_files import check_output_file
    from culturebench.models import check_layer_in_range
    from culturebench.steering.identity import canonical_model_id
    from culturebench.steering.imports import read_raw_tensor
    from culturebench.steering.vectors import SteeringVector, save_vector

    if not math.isfinite(args.default_multiplier):
        raise CultureBenchError(f"--default-multiplier must be a finite number, got {args.default_multiplier}")
    check_output_file(args.out)
    num_layers, hidden_size = _model_shape(args)
    check_layer_in_range(args.layer, num_layers, args.model)
    tensor = read_raw_tensor(args.file)
    if not torch.isfinite(tensor).all():
        raise CultureBenchError(f"{args.file} contains NaN or infinite values; a steering vector must be finite")
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


def _model_shape(args) -> tuple[int, int]:
    """Return `(num_layers, hidden_size)` from the options, else from the preset or the local config."""
    if args.num_layers is not None and args.num_layers < 1:
        raise CultureBenchError(f"invalid --num-layers {args.num_layers}: need 1 or more")
    if args.hidden_size is not None and args.hidden_size < 1:
        raise CultureBenchError(f"invalid --hidden-size {args.hidden_size}: need 1 or more")
    from culturebench.model_presets import get_preset

    preset = get_preset(args.model)
    if preset is not None:
        # A preset's shape is known, so a different size given beside it is a mistake.
        for option, given, actual in (("--num-layers", args.num_layers, preset.num_layers),
                                      ("--hidden-size", args.hidden_size, preset.hidden_size)):
            if given is not None and given != actual:
                raise CultureBenchError(f"{option} {given} contradicts preset {args.model!r}, which has {actual}; "
                                        f"drop {option}")
        return preset.num_layers, preset.hidden_size
    if args.num_layers is not None and args.hidden_size is not None:
        return args.num_layers, args.hidden_size

    from culturebench.models import model_shape

    try:
        num_layers, hidden_size = model_shape(args.model)
    except CultureBenchError as error:
        raise CultureBenchError(f"{error}; or give --num-layers and --hidden-size") from error
    return (
        args.num_layers if args.num_layers is not None else num_layers,
        args.hidden_size if args.hidden_size is not None else hidden_size,
    )

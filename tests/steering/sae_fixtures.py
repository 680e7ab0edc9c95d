"""Small random sae-lens SAEs (d_in 64) for steering tests."""

from __future__ import annotations

import torch

D_IN = 64
D_SAE = 256


def build_sae(architecture: str = "jumprelu", *, d_in: int = D_IN, d_sae: int = D_SAE, layer: int = 1, seed: int = 0):
    """Build a random sae-lens SAE whose codes fire on a few dozen latents for unit-norm-ish inputs."""
    from sae_lens import (
        JumpReLUSAE, JumpReLUSAEConfig, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig,
    )

    classes = {
        "standard": (StandardSAE, StandardSAEConfig, {}),
        "jumprelu": (JumpReLUSAE, JumpReLUSAEConfig, {}),
        "topk": (TopKSAE, TopKSAEConfig, {"k": 16}),
    }
    sae_class, config_class, extra = classes[architecture]
    config = config_class(d_in=d_in, d_sae=d_sae, **extra)
    config.metadata.hook_name = f"blocks.{layer}.hook_resid_post"
    sae = sae_class(config)

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        sae.W_enc.copy_(torch.randn(d_in, d_sae, generator=generator) / d_in**0.5)
        sae.W_dec.copy_(torch.randn(d_sae, d_in, generator=generator) / d_sae**0.5)
        sae.b_enc.copy_(torch.randn(d_sae, generator=generator) * 0.1 - 0.2)
        sae.b_dec.copy_(torch.randn(d_in, generator=generator) * 0.1)
        if hasattr(sae, "threshold"):
            sae.threshold.copy_(torch.rand(d_sae, generator=generator) * 0.3)
    for parameter in sae.parameters():
        parameter.requires_grad_(False)
    return sae.eval()

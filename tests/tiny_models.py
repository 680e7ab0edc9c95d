"""Tiny random-weight models and a small trained tokenizer for fast unit tests.

Nothing here touches the network: the tokenizer is a byte-level BPE trained on a few multilingual
sentences, and the models are built from configs with random weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

VOCAB_SIZE = 512
HIDDEN_SIZE = 64

TOKENIZER_CORPUS = [
    "What do people usually eat for breakfast on a weekday? \\boxed{2}",
    "ماذا يأكل الناس عادة في الفطور؟ فول مدمس وطعمية",
    "¿Qué se suele desayunar entre semana? Tostadas con tomate",
    "O que se come normalmente ao pequeno-almoço? Pão com manteiga",
    "लोग आमतौर पर नाश्ते में क्या खाते हैं? पराठा और चाय",
    "Answer with the number of the option in \\boxed{k}. Options: 1. 2. 3. 4. 5.",
]

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

# Shapes chosen to exercise each architecture's block output type with few parameters.
ARCHITECTURES = {
    "gemma2": dict(
        model_type="gemma2", head_dim=16, query_pre_attn_scalar=16, sliding_window=16,
        attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
    ),
    "gemma3": dict(model_type="gemma3_text", head_dim=16, query_pre_attn_scalar=16, sliding_window=16),
    "llama": dict(model_type="llama"),
    "qwen2": dict(model_type="qwen2"),
}


def build_tokenizer(chat_template: bool = False) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `TOKENIZER_CORPUS` (deterministic, well under a second)."""
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    special = ["<pad>", "<bos>", "<eos>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TOKENIZER_CORPUS, trainer=trainer)
    # Prepend <bos> like Gemma's tokenizer does, so tests catch a doubled BOS.
    bos_id = tokenizer.token_to_id("<bos>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", bos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(architecture: str = "gemma2", num_layers: int = 4, seed: int = 0) -> torch.nn.Module:
    """Build a random-weight causal LM of the given architecture, in fp32 and eval mode."""
    shape = dict(ARCHITECTURES[architecture])
    model_type = shape.pop("model_type")
    config = AutoConfig.for_model(
        model_type,
        vocab_size=VOCAB_SIZE,
        hidden_size=HIDDEN_SIZE,
        intermediate_size=128,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=True,
        **shape,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    return model.float().eval()


def save_pretrained_dir(path: Path, architecture: str = "gemma2", chat_template: bool = False) -> Path:
    """Write a tiny model and its tokenizer to `path` so lm-eval can load it with `pretrained=path`."""
    model = build_model(architecture)
    tokenizer = build_tokenizer(chat_template=chat_template)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path

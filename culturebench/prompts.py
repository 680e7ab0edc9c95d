"""The one prompt builder shared by evaluation, preference-pair training and the judge fallback.

Every place that shows an item to a model builds the text here, so the `culture_*` tasks, the
steering trainers and `culturebench judge` score exactly the same prompt.

Conventions:
- MCQ prompts list the options numbered from 1 and end with an English instruction to answer as
  `\\boxed{k}`. The question and options stay in the item's language. The instruction is English
  for every language, so one extraction rule and one stop-sequence set serve all tasks.
- Cloze (log-likelihood) prompts end with `Answer:`; each continuation is the option text with
  one leading space, which is what lm-eval's `multiple_choice` output type scores when the task
  keeps the default `target_delimiter` of a single space.
- BOS: `apply_chat` keeps the BOS token that the chat template writes, exactly as lm-eval's
  `--apply_chat_template` does. lm-eval 0.4.13 then encodes without special tokens because the
  text already starts with BOS. Outside lm-eval, tokenize with `encode_prompt`, which follows the
  same rule, so no caller adds a second BOS.
"""

from __future__ import annotations

from collections.abc import Sequence

import jinja2

from culturebench.items import Item

MCQ_INSTRUCTION = (
    "Answer with the number of the correct option only, written as \\boxed{k} where k is the "
    "option number."
)
CLOZE_ANSWER_CUE = "Answer:"
# lm-eval's default `target_delimiter`: it joins the context and each continuation.
CLOZE_DELIMITER = " "
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def format_options(options: Sequence[str], *, lettered: bool = False) -> str:
    """Format option texts one per line as `1. text` (or `A. text` when `lettered`)."""
    if lettered and len(options) > len(LETTERS):
        raise ValueError(f"cannot letter {len(options)} options; at most {len(LETTERS)}")
    labels = LETTERS if lettered else [str(number) for number in range(1, len(options) + 1)]
    return "\n".join(f"{label}. {text}" for label, text in zip(labels, options))


def mcq_prompt(item: Item) -> str:
    """Build the MCQ prompt: the question, the numbered options and the `\\boxed{k}` instruction.

    Example:
        >>> mcq_prompt(item)  # doctest: +SKIP
        'What do people eat for breakfast?\\n\\n1. Ful\\n2. Toast\\n\\nAnswer with ...'
    """
    options = format_options([option.text for option in item.options])
    return f"{item.question.strip()}\n\n{options}\n\n{MCQ_INSTRUCTION}"


def boxed_answer(index: int) -> str:
    """Return the answer text for the 0-based option `index`, e.g. `\\boxed{2}` for index 1."""
    if index < 0:
        raise ValueError(f"option index must be >= 0, got {index}")
    return f"\\boxed{{{index + 1}}}"


def mcq_gold(item: Item) -> str:
    """Return the gold MCQ response of `item` (its correct option as `\\boxed{k}`)."""
    return boxed_answer(item.answer)


def cloze_prompt(item: Item) -> str:
    """Build the log-likelihood prompt: the question followed by `Answer:` (options not listed)."""
    return f"{item.question.strip()}\n{CLOZE_ANSWER_CUE}"


def cloze_choices(item: Item) -> list[str]:
    """Return the option texts without the leading space (lm-eval's `doc_to_choice`)."""
    return [option.text.strip() for option in item.options]


def cloze_continuations(item: Item) -> list[str]:
    """Return the continuations lm-eval scores: each option text after one leading space."""
    return [CLOZE_DELIMITER + choice for choice in cloze_choices(item)]


def open_prompt(item: Item) -> str:
    """Build the open-ended prompt: the question alone, answered in free text."""
    return item.question.strip()


def apply_chat(tokenizer, user: str, system: str | None = None) -> str:
    """Render a one-turn conversation with the tokenizer's chat template, ready for generation.

    Tokenizers without a chat template get the plain text (system text, a blank line, then the
    user text). Templates that reject a system role (Gemma's raise a `TemplateError`) get the
    system text folded into the first user turn. The result keeps the BOS token that the template
    writes; tokenize it with `encode_prompt` so that no second BOS is added.

    Args:
        tokenizer: a Hugging Face tokenizer.
        user: the user turn, e.g. `mcq_prompt(item)`.
        system: optional system instruction.

    Example:
        >>> apply_chat(tokenizer, mcq_prompt(item))  # doctest: +SKIP
        '<bos><start_of_turn>user\\n...<end_of_turn>\\n<start_of_turn>model\\n'
    """
    if not getattr(tokenizer, "chat_template", None):
        return f"{system}\n\n{user}" if system else user

    messages = [{"role": "user", "content": user}]
    if system:
        try:
            return _render(tokenizer, [{"role": "system", "content": system}, *messages])
        except jinja2.TemplateError:
            messages = [{"role": "user", "content": f"{system}\n\n{user}"}]
    return _render(tokenizer, messages)


def _render(tokenizer, messages: list[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode_prompt(tokenizer, text: str) -> list[int]:
    """Tokenize a prompt, adding special tokens only when `text` does not already start with BOS.

    This is the rule of lm-eval 0.4.13's `HFLM.tok_encode`, so training and evaluation see the
    same token ids for the same prompt string.
    """
    bos = getattr(tokenizer, "bos_token", None)
    add_special_tokens = not (bos and text.startswith(bos))
    return tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]

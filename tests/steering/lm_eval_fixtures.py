"""Tiny offline lm-eval tasks (local jsonl data) for steered_hf tests."""

from __future__ import annotations

import json
from pathlib import Path

QUESTIONS = [
    ("What do people eat for breakfast?", ["Ful and taameya", "Toast with tomato", "Bread with butter"], 0),
    ("¿Qué se suele desayunar entre semana?", ["Tostadas con tomate", "Pão com manteiga"], 0),
    ("O que se come normalmente ao pequeno-almoço?", ["Pão com manteiga", "Paratha and tea", "Ful"], 0),
    ("ماذا يأكل الناس عادة في الفطور؟", ["فول مدمس وطعمية", "Toast"], 0),
    ("लोग आमतौर पर नाश्ते में क्या खाते हैं?", ["पराठा और चाय", "Toast with tomato"], 0),
    ("Answer with the number of the option", ["1", "2", "3"], 1),
]


def write_tasks(folder: Path) -> Path:
    """Write a cloze (multiple_choice) and a generate_until task reading a local jsonl file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data.jsonl"
    with data.open("w", encoding="utf-8") as handle:
        for question, choices, answer in QUESTIONS:
            record = {"question": question, "choices": choices, "answer": answer, "target": choices[answer]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    common = (
        "dataset_path: json\n"
        "dataset_kwargs:\n"
        f"  data_files:\n    test: {data}\n"
        "test_split: test\n"
    )
    (folder / "tiny_cloze.yaml").write_text(
        "task: tiny_cloze\n" + common
        + "output_type: multiple_choice\n"
        "doc_to_text: \"{{question}}\\nAnswer:\"\n"
        "doc_to_choice: \"{{choices}}\"\n"
        "doc_to_target: \"{{answer}}\"\n"
        "metric_list:\n  - metric: acc\n",
        encoding="utf-8",
    )
    (folder / "tiny_gen.yaml").write_text(
        "task: tiny_gen\n" + common
        + "output_type: generate_until\n"
        "doc_to_text: \"{{question}}\"\n"
        "doc_to_target: \"{{target}}\"\n"
        "generation_kwargs:\n  until: [\"<eos>\"]\n  max_gen_toks: 8\n  do_sample: false\n"
        "metric_list:\n  - metric: exact_match\n",
        encoding="utf-8",
    )
    return folder

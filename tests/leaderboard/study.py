"""Write a small study directory in the layouts the leaderboard reads, for tests.

lm-eval files follow what lm-eval 0.4.13 writes with `--output_path DIR --log_samples` (checked
against a real run in test_lm_eval_output.py): `DIR/<model_name_sanitized>/results_<date>.json`
and `samples_<task>_<date>.jsonl` records with doc, arguments, resps, filtered_resps, hashes and
per-sample metric values. Outcomes are drawn from a seeded generator, so tests can recompute them.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

MODEL = "google/gemma-3-270m"
DATE_ID = "2026-05-01T12-00-00.000000"
DATE_UNIX = 1777636800.0  # 2026-05-01T12:00:00Z

QUESTION_XSS = '<script>window.__xss = "question"</script>'
ANSWER_XSS = '<img src=x onerror="window.__xss = \'answer\'"><script>window.__xss = "answer"</script>'
RATIONALE_XSS = '</div><script>window.__xss = "rationale"</script>'
ARABIC_QUESTION = "أنا من المغرب، ماذا نأكل عادة في فطور يوم الجمعة؟"

COUNTRY_OPTIONS = {
    "arabic": {
        "egypt": "فول مدمس وطعمية",
        "ksa": "كبسة باللحم",
        "levantine": "منقوشة زعتر",
        "morocco": "بغرير وأملو",
        "western": "خبز محمص وزبدة",
    },
    "english": {
        "usa": "pancakes with maple syrup",
        "uk": "a full English breakfast",
        "australia": "Vegemite on toast",
        "western": "a bowl of cereal",
    },
}
QUESTIONS_PER_COUNTRY = 5

# Probability of a correct answer per method and variant; the rest goes to the dominant country.
SKILL = {
    "baseline": (0.7, 0.35),
    "caa": (0.7, 0.45),
    "sas": (0.75, 0.5),
    "bipo": (0.75, 0.6),
    "yapo": (0.8, 0.7),
}
DOMINANT = {"arabic": "egypt", "english": "usa"}


@dataclass
class Study:
    """Where the files went and what a test can check against."""

    root: Path
    runs: dict[str, Path] = field(default_factory=dict)
    correct: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    judge_scores: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_items(language: str) -> list[dict]:
    """Return item dicts in `Item.to_dict()` form: every country, both variants, five questions each."""
    countries = [country for country in COUNTRY_OPTIONS[language] if country != "western"]
    options = [{"text": text, "country": country} for country, text in COUNTRY_OPTIONS[language].items()]
    items = []
    for country in countries:
        for number in range(QUESTIONS_PER_COUNTRY):
            for variant in ("localized", "nonlocalized"):
                question = f"{language} breakfast question {number} for {country} ({variant})"
                if language == "arabic" and number == 0 and variant == "localized":
                    question = ARABIC_QUESTION
                if language == "arabic" and number == 0 and variant == "nonlocalized":
                    question = "شنو كناكلو فالفطور نهار الجمعة؟"
                if language == "arabic" and country == "egypt" and number == 1 and variant == "localized":
                    question = f"What is breakfast? {QUESTION_XSS}"
                items.append({
                    "id": f"{language[:2]}-{country}-{number:03d}-{variant[:3]}",
                    "pair_id": f"{language[:2]}-{country}-{number:03d}",
                    "language": language,
                    "country": country,
                    "topic": "food",
                    "subtopic": "breakfast",
                    "variant": variant,
                    "question": question,
                    "options": options,
                    "answer": countries.index(country),
                    "gold_open": f"In {country} people usually eat {COUNTRY_OPTIONS[language][country]}.",
                    "paraphrases": [],
                    "split": "test",
                    "source": "culturebench",
                })
    return items


def _choose(rng: random.Random, method: str, item: dict, language: str) -> int:
    p_loc, p_nonloc = SKILL.get(method, (0.5, 0.5))
    p_correct = p_loc if item["variant"] == "localized" else p_nonloc
    if rng.random() < p_correct:
        return item["answer"]
    countries = [option["country"] for option in item["options"]]
    if rng.random() < 0.25:
        return countries.index("western")
    return countries.index(DOMINANT[language])


def _ll_record(doc_id: int, item: dict, chosen: int) -> dict:
    """One `multiple_choice` sample as lm-eval logs it; the chosen option has the best likelihood."""
    prompt = f"Question: {item['question']}\nAnswer:"
    choices = [option["text"] for option in item["options"]]
    # Per-character log-likelihood -1 for the chosen option and -3 for the others, so both the raw
    # and the length-normalised argmax pick it (the options have similar lengths).
    lls = [-1.0 * len(choice) if index == chosen else -3.0 * len(choice) for index, choice in enumerate(choices)]
    correct = int(chosen == item["answer"])
    variant_record = {"variant": item["variant"], "correct": correct}
    return {
        "doc_id": doc_id,
        "doc": item,
        "target": str(item["answer"]),
        "arguments": {f"gen_args_{i}": {"arg_0": prompt, "arg_1": " " + c} for i, c in enumerate(choices)},
        "resps": [[[str(ll), "False"]] for ll in lls],
        "filtered_resps": [[str(ll), "False"] for ll in lls],
        "filter": "none",
        "metrics": ["acc", "acc_norm", "acc_loc", "acc_nonloc", "rca", "pnlg"],
        "doc_hash": _hash(json.dumps(item, indent=2, ensure_ascii=False)),
        "prompt_hash": _hash(prompt),
        "target_hash": _hash(str(item["answer"])),
        "acc": correct,
        "acc_norm": correct,
        "acc_loc": variant_record,
        "acc_nonloc": variant_record,
        "rca": variant_record,
        "pnlg": variant_record,
    }


def _oe_record(doc_id: int, item: dict, answer: str) -> dict:
    prompt = item["question"]
    return {
        "doc_id": doc_id,
        "doc": item,
        "target": item["gold_open"],
        "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["<end_of_turn>"], "do_sample": False}}},
        "resps": [[answer]],
        "filtered_resps": [answer],
        "filter": "none",
        "metrics": ["nonempty"],
        "doc_hash": _hash(json.dumps(item, indent=2, ensure_ascii=False)),
        "prompt_hash": _hash(prompt),
        "target_hash": _hash(item["gold_open"]),
        "nonempty": int(bool(answer.strip())),
    }


def _task_config(task: str, output_type: str, language: str) -> dict:
    return {
        "task": task,
        "custom_dataset": "def load_docs(\n    language: str,\n    setting: str,\n    country: str | None = None,\n",
        "dataset_kwargs": {"language": language, "country": None, "setting": "both"},
        "test_split": "test",
        "doc_to_text": "<function cloze_text at 0x7f0000000000>",
        "target_delimiter": " ",
        "fewshot_delimiter": "\n\n",
        "num_fewshot": 0,
        "output_type": output_type,
        "repeats": 1,
        "should_decontaminate": False,
        "metadata": {"version": 1.0, "culturebench_version": "0.1.0", "pretrained": MODEL},
    }


def write_lm_eval_output(
    output_path: Path,
    model_args: dict,
    model: str,
    tasks: dict[str, tuple[str, str, list[dict]]],
    *,
    date_id: str = DATE_ID,
    date: float = DATE_UNIX,
    n_original: dict[str, int] | None = None,
) -> Path:
    """Write lm-eval's output for `tasks` ({task: (output_type, language, sample records)})."""
    sanitized = model_args.get("pretrained", model).replace("/", "__")
    directory = output_path / sanitized
    directory.mkdir(parents=True, exist_ok=True)
    for task, (_, _, records) in sorted(tasks.items()):
        with (directory / f"samples_{task}_{date_id}.jsonl").open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    data = lm_eval_results(model_args, model, tasks, date=date, n_original=n_original)
    path = directory / f"results_{date_id}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def lm_eval_results(
    model_args: dict,
    model: str,
    tasks: dict[str, tuple[str, str, list[dict]]],
    *,
    date: float = DATE_UNIX,
    n_original: dict[str, int] | None = None,
) -> dict:
    """Return the results dictionary lm-eval 0.4.13 saves, for `tasks` as in `write_lm_eval_output`."""
    sanitized = model_args.get("pretrained", model).replace("/", "__")
    results, configs = {}, {}
    for task, (output_type, language, records) in sorted(tasks.items()):
        entry = {"alias": task}
        if output_type == "multiple_choice":
            acc = sum(r["acc"] for r in records) / len(records)
            entry.update({"acc,none": acc, "acc_stderr,none": 0.05, "acc_norm,none": acc,
                          "acc_norm_stderr,none": 0.05})
        else:
            entry.update({"nonempty,none": 1.0, "nonempty_stderr,none": 0.0})
        for name, variant in (("acc_loc", "localized"), ("acc_nonloc", "nonlocalized")):
            variant_records = [r[name] for r in records if isinstance(r.get(name), dict)]
            if variant_records:
                scores = [record["correct"] for record in variant_records if record["variant"] == variant]
                entry[f"{name},none"] = sum(scores) / len(scores) if scores else float("nan")
        results[task] = entry
        configs[task] = _task_config(task, output_type, language)
    return {
        "results": results,
        "group_subtasks": {task: [] for task in sorted(tasks)},
        "configs": configs,
        "versions": {task: 1.0 for task in sorted(tasks)},
        "n-shot": {task: 0 for task in sorted(tasks)},
        "higher_is_better": {task: {"acc": True} for task in sorted(tasks)},
        "n-samples": {
            task: {"original": (n_original or {}).get(task, len(records)), "effective": len(records)}
            for task, (_, _, records) in sorted(tasks.items())
        },
        "config": {
            "model": model,
            "model_args": model_args,
            "model_num_parameters": 268098176,
            "model_dtype": "torch.float32",
            "model_revision": "main",
            "model_sha": "",
            "batch_size": 1,
            "batch_sizes": [],
            "device": "cpu",
            "use_cache": None,
            "limit": None,
            "bootstrap_iters": 100000,
            "gen_kwargs": {},
            "random_seed": 0,
            "numpy_seed": 1234,
            "torch_seed": 1234,
            "fewshot_seed": 1234,
        },
        "git_hash": None,
        "date": date,
        "pretty_env_info": "PyTorch version: 2.13.0+cpu",
        "transformers_version": "5.25.0",
        "lm_eval_version": "0.4.13",
        "upper_git_hash": None,
        "tokenizer_pad_token": ["<pad>", "0"],
        "tokenizer_eos_token": ["<eos>", "1"],
        "tokenizer_bos_token": ["<bos>", "2"],
        "eot_token_id": 1,
        "max_length": 2048,
        "task_hashes": {task: _hash(task) for task in sorted(tasks)},
        "model_source": model,
        "model_name": model_args.get("pretrained", model),
        "model_name_sanitized": sanitized,
        "system_instruction": None,
        "system_instruction_sha": None,
        "fewshot_as_multiturn": False,
        "chat_template": None,
        "chat_template_sha": None,
        "total_evaluation_time_seconds": "12.5",
    }


def write_vector(path: Path, method: str, setting: str, country: str) -> Path:
    """Write a vector file with the header fields `culturebench.steering.vectors` writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sparse = method in ("sas", "yapo")
    metadata = {
        "format": "culturebench-steering-vector",
        "format_version": "1",
        "method": method,
        "layer": "6",
        "space": "sae" if sparse else "dense",
        "model_id": MODEL,
        "hookpoint": "model.layers.6",
        "model_revision": "main",
        "default_multiplier": "1.0",
        "training_data_sha256": "d" * 64,
        "country": country,
        "setting": setting,
        "culturebench_version": "0.1.0",
    }
    if sparse:
        metadata["sae"] = json.dumps({
            "spec": "culturebench-gemma-3-270m-res/layer_6", "d_in": 640, "d_sae": 4096,
            "hook_name": "blocks.6.hook_resid_post", "architecture": "standard", "sha256": "e" * 64,
            "release": "culturebench-gemma-3-270m-res", "sae_id": "layer_6",
        }, sort_keys=True)
    save_file({"vector": np.zeros(4096 if sparse else 640, dtype=np.float32)}, str(path), metadata=metadata)
    return path


def write_study(root: Path, seed: int = 0) -> Study:
    """Write five method runs, a failed run, a partial run, judge results, training logs and analyses."""
    rng = random.Random(seed)
    study = Study(root=root)
    languages = {language: build_items(language) for language in COUNTRY_OPTIONS}

    for method in ("baseline", "caa", "sas", "bipo", "yapo"):
        run_dir = root / method
        run_dir.mkdir(parents=True)
        manifest = {"kind": "run", "method": method, "model": MODEL, "model_revision": "main",
                    "dataset": "bundled", "dataset_sha256": "a" * 64, "seeds": {"train": 0, "eval": 1234},
                    "culturebench_version": "0.1.0", "lm_eval_version": "0.4.13",
                    "date": "2026-05-01T12:00:00Z", "status": "ok", "judge": "openai:gpt-4o-mini"}
        model_args = {"pretrained": MODEL}
        if method != "baseline":
            vector = write_vector(run_dir / "vector.safetensors", method, "nonlocalized", "morocco")
            manifest.update({"setting": "nonlocalized", "country": "morocco", "vector": "vector.safetensors",
                             "layer": 6, "multiplier": 1.0})
            model_args["vector"] = str(vector)
        (run_dir / "run.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")

        tasks = {}
        for language, items in languages.items():
            records = []
            for doc_id, item in enumerate(items):
                chosen = _choose(rng, method, item, language)
                records.append(_ll_record(doc_id, item, chosen))
                key = (method, language, item["variant"])
                study.correct.setdefault(key, []).append(float(chosen == item["answer"]))
            tasks[f"culture_{language}_both_ll"] = ("multiple_choice", language, records)

        oe_items = languages["arabic"]
        oe_records = []
        judge_lines = []
        for doc_id, item in enumerate(oe_items):
            answer = f"نأكل {COUNTRY_OPTIONS['arabic'][item['country']]}"
            if method == "yapo" and doc_id == 2:
                answer = ANSWER_XSS
            oe_records.append(_oe_record(doc_id, item, answer))
            judge_lines.append(_judge_line(rng, method, doc_id, item, study))
        tasks["culture_arabic_both_oe"] = ("generate_until", "arabic", oe_records)
        write_lm_eval_output(run_dir / "lm_eval", model_args, "steered_hf" if method != "baseline" else "hf",
                             tasks)
        _write_judge_results(run_dir / "judge", judge_lines)
        study.runs[method] = run_dir

    failed = root / "bipo-both-failed"
    failed.mkdir()
    (failed / "run.json").write_text(json.dumps({
        "method": "bipo", "setting": "both", "country": "morocco", "model": MODEL, "status": "failed",
        "error": "training diverged: loss is NaN at step 120",
    }), encoding="utf-8")
    study.runs["failed"] = failed

    partial = root / "caa-localized-limit"
    partial_items = languages["english"][:6]
    partial_records = [_ll_record(i, item, item["answer"]) for i, item in enumerate(partial_items)]
    write_lm_eval_output(partial, {"pretrained": MODEL, "vector": "missing.safetensors", "method": "caa"},
                         "steered_hf", {"culture_english_both_ll": ("multiple_choice", "english", partial_records)},
                         n_original={"culture_english_both_ll": len(languages["english"])})
    study.runs["partial"] = partial / MODEL.replace("/", "__")

    _write_sweep_output(root / "sweeps" / "caa-morocco", study.runs["caa"] / "vector.safetensors", languages)
    _write_training_logs(root / "training")
    _write_analyses(root / "analyses")
    return study


def _judge_line(rng: random.Random, method: str, doc_id: int, item: dict, study: Study) -> dict:
    failed = doc_id == 3
    overall = round(rng.choice([0.25, 0.5, 0.75, 1.0]), 2)
    line = {
        "task": "culture_arabic_both_oe",
        "doc_id": doc_id,
        "samples_file": f"../lm_eval/{MODEL.replace('/', '__')}/samples_culture_arabic_both_oe_{DATE_ID}.jsonl",
        "country": item["country"],
        "variant": item["variant"],
        "language": "arabic",
        "judge": "openai:gpt-4o-mini",
        "judge_backend": "openai",
        "judge_model": "gpt-4o-mini",
        "rubric": "open_ended",
        "rubric_version": 1,
        "status": "failed" if failed else "ok",
        "failure_reason": "invalid_json" if failed else None,
        "scores": None if failed else {"fluency": 1.0, "factual_accuracy": overall,
                                       "cultural_appropriateness": overall, "content_quality": 0.75,
                                       "overall": overall},
        "flags": None if failed else {"fabricated_references": False, "nonsensical": doc_id == 4,
                                      "excessive_repetition": False},
        "rationale": None,
    }
    if not failed:
        line["rationale"] = "The answer names a typical dish. " + (RATIONALE_XSS if doc_id == 2 else "")
    if not failed:
        study.judge_scores.setdefault((method, "arabic", item["variant"]), []).append(overall)
    return line


def _write_judge_results(directory: Path, lines: list[dict]) -> None:
    directory.mkdir(parents=True)
    with (directory / "results.jsonl").open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    summary = {"kind": "judge_summary", "judge": "openai:gpt-4o-mini",
               "counts": {"items": len(lines), "scored": len(lines) - 1, "failed": 1},
               "failures": {"invalid_json": 1}, "tokens": {"input": 1200, "output": 300}, "cost_usd": 0.0004}
    (directory / "results.summary.json").write_text(json.dumps(summary), encoding="utf-8")


def _write_sweep_output(directory: Path, vector: Path, languages: dict[str, list[dict]]) -> None:
    """Write what `culturebench sweep --log-samples` writes: one results.json per multiplier."""
    items = languages["english"]
    for multiplier, label in ((0.0, "0"), (1.0, "1"), (4.0, "4")):
        # Accuracy rises at λ = 1 and collapses at λ = 4, item by item.
        records = []
        for doc_id, item in enumerate(items):
            if multiplier == 0.0:
                correct = doc_id % 3 == 0
            else:
                correct = multiplier == 1.0 and doc_id % 4 != 0
            records.append(_ll_record(doc_id, item, item["answer"] if correct else 3))
        data = lm_eval_results({"pretrained": MODEL, "vector": str(vector)}, "steered_hf",
                               {"culture_english_both_ll": ("multiple_choice", "english", records)})
        data["culturebench_steering"] = {"multiplier": multiplier, "multipliers": [multiplier],
                                         "vectors": [str(vector)], "positions": "all", "restricted": True}
        folder = directory / f"multiplier_{label}"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
        with (folder / "samples_culture_english_both_ll.jsonl").open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_training_logs(directory: Path) -> None:
    directory.mkdir(parents=True)
    for method, floor in (("bipo", 0.35), ("yapo", 0.05)):
        with (directory / f"{method}-morocco.jsonl").open("w", encoding="utf-8") as handle:
            for step in range(0, 201, 10):
                loss = floor + (0.693 - floor) * np.exp(-step / 40.0)
                record = {"step": step, "loss": round(float(loss), 5), "lr": 5e-4, "method": method,
                          "country": "morocco", "setting": "nonlocalized"}
                handle.write(json.dumps(record) + "\n")
                if step % 50 == 0:
                    handle.write(json.dumps({"step": step, "loss": round(float(loss) + 0.03, 5),
                                             "split": "eval", "method": method}) + "\n")


def _write_analyses(directory: Path) -> None:
    directory.mkdir(parents=True)
    layers = list(range(18))
    correct = [round(0.3 * np.exp(-((layer - 6) ** 2) / 8.0), 4) for layer in layers]
    western = [round(-0.05 * np.exp(-((layer - 6) ** 2) / 8.0), 4) for layer in layers]
    # Both forms `culturebench patch` writes: parallel lists and a `curve` of per-layer objects with CIs.
    patching = {"kind": "activation_patching", "model": MODEL, "country": "morocco", "n": 20, "layers": layers,
                "delta_correct": correct, "delta_western": western,
                "curve": [{"layer": layer, "delta_correct": c, "delta_correct_ci": [c - 0.05, c + 0.05],
                           "delta_western": w, "delta_western_ci": [w - 0.02, w + 0.02]}
                          for layer, c, w in zip(layers, correct, western)]}
    (directory / "patching-morocco.json").write_text(json.dumps(patching), encoding="utf-8")
    points = []
    for method, width in (("caa", 1.0), ("sas", 1.5), ("bipo", 6.0), ("yapo", 8.0)):
        for multiplier in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0):
            accuracy = 0.35 + 0.3 * min(multiplier, 1.0) - (0.3 if multiplier > width else 0.0)
            points.append({"method": method, "multiplier": multiplier, "accuracy": round(accuracy, 3),
                           "setting": "nonlocalized", "country": "morocco"})
    (directory / "sweep-morocco.json").write_text(json.dumps({"kind": "multiplier_sweep", "points": points}),
                                                  encoding="utf-8")
    comparisons = [
        {"task": "mmlu_local", "method": "yapo", "baseline": 0.41, "steered": 0.40, "delta": -0.01,
         "ci": [-0.03, 0.01]},
        {"task": "mmlu_local", "method": "bipo", "baseline": 0.41, "steered": 0.37, "delta": -0.04,
         "ci": [-0.06, -0.02]},
        {"task": "behaviour_hallucination", "method": "yapo", "baseline": 0.55, "steered": 0.58, "delta": 0.03},
    ]
    (directory / "generalisation.json").write_text(
        json.dumps({"kind": "generalisation", "comparisons": comparisons}), encoding="utf-8")

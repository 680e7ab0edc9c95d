"""The `mmlu_local_*` and `behaviour_*` tasks: generation, loaders, scoring and real lm-eval runs."""

from __future__ import annotations

import math
import shutil

import pytest

from culturebench.errors import CultureBenchError
from culturebench.tasks import behaviours, generalisation_generate, mmlu
from culturebench.tasks.generalisation_table import BEHAVIOURS, MMLU_CATEGORIES, group_rows, mmlu_rows


def test_committed_files_match_generation():
    assert generalisation_generate.differences() == []


def test_table_covers_every_mmlu_subject(shared_data):
    on_disk = sorted(path.name.removesuffix("_test.csv") for path in (shared_data / "mmlu" / "test").glob("*.csv"))
    assert [row.subject for row in mmlu_rows()] == on_disk
    assert sum(len(subjects) for subjects in MMLU_CATEGORIES.values()) == 57
    groups = {group.name: group.members for group in group_rows()}
    assert groups["mmlu_local"] == tuple(f"mmlu_local_{category}" for category in MMLU_CATEGORIES)
    assert groups["behaviour"] == tuple(f"behaviour_{name}" for name in BEHAVIOURS)


def test_custom_behaviour_files(tmp_path):
    assert generalisation_generate.main(["--behaviour", "sycophancy", "--output", str(tmp_path)]) == 0
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["behaviour_sycophancy.yaml", "behaviour_sycophancy_ab.yaml", "functions.py"]
    assert generalisation_generate.main(["--check", "--behaviour", "sycophancy", "--output", str(tmp_path)]) == 0
    (tmp_path / "behaviour_sycophancy.yaml").write_text("task: edited\n", encoding="utf-8")
    assert generalisation_generate.main(["--check", "--behaviour", "sycophancy", "--output", str(tmp_path)]) == 1


def test_custom_behaviour_name_checked(tmp_path):
    with pytest.raises(SystemExit):
        generalisation_generate.main(["--behaviour", "Power-Seeking", "--output", str(tmp_path)])
    with pytest.raises(SystemExit):
        generalisation_generate.main(["--behaviour", "x"])


def test_mmlu_documents(shared_data):
    dataset = mmlu.load_mmlu("anatomy", culturebench_mmlu=str(shared_data / "mmlu"), version=1.0)
    assert len(dataset["dev"]) == 5
    assert len(dataset["test"]) == 135
    first = dataset["test"][0]
    assert first["question"].startswith("A lesion causing compression of the facial nerve")
    assert first["answer"] == 0
    assert len(first["choices"]) == 4
    assert mmlu.mmlu_text(first).endswith("\nD. paralysis of the facial muscles, loss of taste, lacrimation and decreased salivation.\nAnswer:")


def test_mmlu_root_from_environment_and_data_folder(shared_data, tmp_path, monkeypatch):
    nested = tmp_path / "data"
    shutil.copytree(shared_data / "mmlu" / "dev", nested / "dev")
    (nested / "test").mkdir()
    shutil.copy(shared_data / "mmlu" / "test" / "virology_test.csv", nested / "test")
    monkeypatch.setenv(mmlu.MMLU_ENV, str(tmp_path))
    assert mmlu.mmlu_root({}) == nested
    assert len(mmlu.load_mmlu("virology")["test"]) == 166
    with pytest.raises(CultureBenchError, match="anatomy_test.csv not found"):
        mmlu.load_mmlu("anatomy")


def test_mmlu_errors_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv(mmlu.MMLU_ENV, raising=False)
    with pytest.raises(CultureBenchError, match="CULTUREBENCH_MMLU"):
        mmlu.mmlu_root({})
    with pytest.raises(CultureBenchError, match="no test/ subfolder"):
        mmlu.mmlu_root({"culturebench_mmlu": str(tmp_path)})
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "x_test.csv").write_text("Q,a,b,c,d,E\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="is not one of A, B, C, D"):
        mmlu.read_subject(tmp_path, "x", "test")


def test_behaviour_documents(shared_data):
    dataset = behaviours.load_behaviour("power_seeking", culturebench_behaviours=str(shared_data / "bipo"))
    docs = dataset["test"]
    assert len(docs) == 200
    assert docs[1]["question"].startswith("Will you seek to develop superior influence")
    assert docs[1]["answer"] == 1
    assert docs[1]["choices"][1].startswith("Certainly.")
    assert behaviours.behaviour_text(docs[1]).endswith("by any means necessary?\nAnswer:")
    assert behaviours.behaviour_ab_text(docs[1]).splitlines()[1].startswith("A. No, I have no desire")


def test_behaviour_file_spellings(tmp_path, monkeypatch):
    (tmp_path / "mine.csv").write_text("question,A,B,matching\nQ?,yes,no,(B)\n", encoding="utf-8")
    monkeypatch.setenv(behaviours.BEHAVIOURS_ENV, str(tmp_path))
    (doc,) = behaviours.load_behaviour("mine")["test"]
    assert doc == {"question": "Q?", "choices": ["yes", "no"], "answer": 1}
    with pytest.raises(CultureBenchError, match="not found; looked for"):
        behaviours.behaviour_file("other_set", {})
    monkeypatch.delenv(behaviours.BEHAVIOURS_ENV)
    with pytest.raises(CultureBenchError, match="CULTUREBENCH_BEHAVIOURS"):
        behaviours.behaviour_file("mine", {})


@pytest.mark.parametrize("content, message", [
    ("question,matching,not_matching\nQ,a,b\n", "lacks column"),
    ("question,A,B,matching\nQ,a,b,C\n", "is not A or B"),
    ("question,A,B,matching\nQ,,b,A\n", "must not be empty"),
    ("question,A,B,matching\n", "has no rows"),
])
def test_behaviour_file_rejected(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CultureBenchError, match=message):
        behaviours.read_behaviour(path)


def test_process_behaviour():
    scored = behaviours.process_behaviour({"answer": 1}, [(-3.0, False), (-1.0, False)])
    assert scored["acc"] == 1.0
    assert scored["p_matching"] == pytest.approx(1 / (1 + math.exp(-2.0)))
    scored = behaviours.process_behaviour({"answer": 0}, [(-800.0, False), (-1.0, False)])
    assert scored["acc"] == 0.0
    assert scored["p_matching"] == pytest.approx(0.0, abs=1e-300)
    with pytest.raises(CultureBenchError, match="2 answers"):
        behaviours.process_behaviour({"answer": 0}, [(-1.0, False)])


def _evaluate(tiny_model_dir, shared_data, tasks, limit):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    metadata = {"culturebench_mmlu": str(shared_data / "mmlu"), "culturebench_behaviours": str(shared_data / "bipo")}
    return simple_evaluate(
        model="hf", model_args=f"pretrained={tiny_model_dir},dtype=float32", tasks=tasks, device="cpu",
        limit=limit, log_samples=True, task_manager=TaskManager(metadata=metadata),
    )


def test_mmlu_local_runs_five_shot(tiny_model_dir, shared_data):
    results = _evaluate(tiny_model_dir, shared_data, ["mmlu_local_anatomy", "mmlu_local_virology"], limit=3)
    dev_question = mmlu.read_subject(shared_data / "mmlu", "anatomy", "dev")[4]["question"]
    for task in ("mmlu_local_anatomy", "mmlu_local_virology"):
        samples = results["samples"][task]
        assert len(samples) == 3
        correct = []
        for sample in samples:
            context = sample["arguments"][0][0]
            assert context.count("\nAnswer:") == 6
            assert [argument[1] for argument in sample["arguments"]] == [" A", " B", " C", " D"]
            scores = [response[0] for response in sample["filtered_resps"]]
            correct.append(float(scores.index(max(scores)) == sample["target"]))
            assert sample["acc"] == correct[-1]
        assert results["results"][task]["acc,none"] == pytest.approx(sum(correct) / 3)
    anatomy = results["samples"]["mmlu_local_anatomy"][0]["arguments"][0][0]
    assert anatomy.startswith("The following are multiple choice questions (with answers) about anatomy.\n\n")
    assert dev_question.strip() in anatomy


def test_mmlu_local_group_pools_subjects(tiny_model_dir, shared_data):
    results = _evaluate(tiny_model_dir, shared_data, ["mmlu_local_other"], limit=1)
    subjects = MMLU_CATEGORIES["other"]
    accuracies = [results["results"][f"mmlu_local_{subject}"]["acc,none"] for subject in subjects]
    assert results["results"]["mmlu_local_other"]["acc,none"] == pytest.approx(sum(accuracies) / len(subjects))


def test_behaviour_tasks_score_matching(tiny_model_dir, shared_data):
    tasks = ["behaviour_wealth_seeking", "behaviour_wealth_seeking_ab"]
    results = _evaluate(tiny_model_dir, shared_data, tasks, limit=4)
    docs = behaviours.read_behaviour(shared_data / "bipo" / "wealth-seeking" / "test_infer.csv")[:4]
    for task in tasks:
        samples = results["samples"][task]
        p_matching = []
        for sample, doc in zip(samples, docs):
            continuations = [argument[1] for argument in sample["arguments"]]
            expected = [" A", " B"] if task.endswith("_ab") else [" " + choice for choice in doc["choices"]]
            assert continuations == expected
            scores = [response[0] for response in sample["filtered_resps"]]
            margin = scores[doc["answer"]] - scores[1 - doc["answer"]]
            assert sample["p_matching"] == pytest.approx(1 / (1 + math.exp(-margin)))
            p_matching.append(sample["p_matching"])
        assert results["results"][task]["p_matching,none"] == pytest.approx(sum(p_matching) / 4)


def test_tasks_listed_without_include_path():
    from lm_eval.tasks import TaskManager

    names = set(TaskManager().all_tasks)
    for name in ("mmlu_local", "mmlu_local_stem", "mmlu_local_world_religions", "behaviour",
                 "behaviour_hallucination_ab", "culture_arabic_both"):
        assert name in names


def test_cloze_form_matches_training_pairs(tiny_tokenizer, tmp_path):
    from culturebench.steering.pair_files import load_pairs

    path = tmp_path / "pairs.csv"
    path.write_text("question,matching,not_matching\n Would you take the money? ,Yes. ,No.\n", encoding="utf-8")
    (pair,) = load_pairs(path, tiny_tokenizer)
    doc = {"question": "Would you take the money?", "choices": ["Yes.", "No."], "answer": 0}
    assert behaviours.behaviour_text(doc) == pair.prompt
    assert " " + behaviours.behaviour_choices(doc)[0] == pair.chosen
    assert " " + behaviours.behaviour_choices(doc)[1] == pair.rejected

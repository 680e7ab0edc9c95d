"""Multiplier sweeps: one load, one results file per multiplier, same outputs as separate runs."""

from __future__ import annotations

import json

import pytest
import torch
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager

from culturebench.cli import main
from culturebench.steering.lm_eval_model import SteeredHFLM
from culturebench.steering.sweep import multiplier_label, run_sweep
from culturebench.steering.vectors import SteeringVector, save_vector
from tests import tiny_models
from tests.model_guard import no_model_loading  # noqa: F401 - a fixture
from tests.steering.lm_eval_fixtures import write_tasks

MULTIPLIERS = [0.0, -2.0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("sweep")
    generator = torch.Generator().manual_seed(5)
    vector = SteeringVector(vector=torch.randn(tiny_models.HIDDEN_SIZE, generator=generator) * 2, method="caa",
                            layer=1, space="dense", model_id=str(tiny_model_dir), hookpoint="model.layers.1")
    return write_tasks(folder / "tasks"), save_vector(vector, folder / "v.safetensors")


def _resps(task_dir, lm):
    results = simple_evaluate(model=lm, tasks=["tiny_cloze", "tiny_gen"], log_samples=True,
                              task_manager=TaskManager(include_path=str(task_dir)))
    return {task: [sample["resps"] for sample in samples] for task, samples in results["samples"].items()}


@pytest.mark.slow
def test_sweep_matches_separate_runs(setup, tiny_model_dir, tmp_path):
    task_dir, vector_file = setup
    lm = SteeredHFLM(pretrained=str(tiny_model_dir), vector=str(vector_file), batch_size=4, device="cpu")
    model = lm.model
    paths = run_sweep(lm, ["tiny_cloze", "tiny_gen"], MULTIPLIERS, tmp_path / "out",
                      task_manager=TaskManager(include_path=str(task_dir)), log_samples=True)
    assert lm.model is model
    assert [path.parent.name for path in paths] == ["multiplier_0", "multiplier_m2"]

    swept = {}
    for multiplier, path in zip(MULTIPLIERS, paths):
        results = json.loads(path.read_text(encoding="utf-8"))
        assert results["culturebench_steering"]["multiplier"] == multiplier
        assert set(results["results"]) == {"tiny_cloze", "tiny_gen"}
        swept[multiplier] = {}
        for task in ("tiny_cloze", "tiny_gen"):
            lines = (path.parent / f"samples_{task}.jsonl").read_text(encoding="utf-8").splitlines()
            swept[multiplier][task] = [json.loads(line)["resps"] for line in lines]
    assert swept[0.0] != swept[-2.0]

    separate = SteeredHFLM(pretrained=str(tiny_model_dir), vector=str(vector_file), multiplier=-2.0,
                           batch_size=4, device="cpu")
    assert swept[-2.0] == json.loads(json.dumps(_resps(task_dir, separate)))


def test_multiplier_labels():
    assert multiplier_label(0.5) == "0.5"
    assert multiplier_label(2.0) == "2"
    assert multiplier_label(-1.0) == "m1"


@pytest.mark.slow
def test_cli_sweep(setup, tiny_model_dir, tmp_path, capsys):
    task_dir, vector_file = setup
    code = main(["sweep", "--tasks", "tiny_cloze", "--vector", str(vector_file), "--multipliers", "0,1",
                 "--model", str(tiny_model_dir), "--include-path", str(task_dir), "--device", "cpu",
                 "--batch-size", "4", "--output", str(tmp_path / "cli")])
    assert code == 0
    assert (tmp_path / "cli" / "multiplier_0" / "results.json").is_file()
    assert (tmp_path / "cli" / "multiplier_1" / "results.json").is_file()
    assert "multiplier 1:" in capsys.readouterr().out


def test_cli_rejects_bad_multipliers(setup, tmp_path, capsys):
    _, vector_file = setup
    code = main(["sweep", "--tasks", "tiny_cloze", "--vector", str(vector_file), "--multipliers", "1,x",
                 "--output", str(tmp_path)])
    assert code == 2
    assert "invalid --multipliers '1,x'" in capsys.readouterr().err
    code = main(["sweep", "--tasks", "tiny_cloze", "--vector", str(vector_file), "--multipliers", "1,nan",
                 "--output", str(tmp_path)])
    assert code == 2
    assert "every multiplier must be a finite number" in capsys.readouterr().err


def test_cli_rejects_unknown_task_before_model(setup, tiny_model_dir, tmp_path, no_model_loading, capsys):
    task_dir, vector_file = setup
    code = main(["sweep", "--tasks", "tiny_cloze,tiny_clozee", "--vector", str(vector_file), "--multipliers", "0,1",
                 "--model", str(tiny_model_dir), "--include-path", str(task_dir), "--device", "cpu",
                 "--output", str(tmp_path / "cli")])
    assert code == 2
    error = capsys.readouterr().err
    assert "unknown lm-eval task 'tiny_clozee'" in error
    assert "close to tiny_cloze" in error
    assert not (tmp_path / "cli").exists()


def test_cli_rejects_missing_include_path(setup, tmp_path, no_model_loading, capsys):
    _, vector_file = setup
    code = main(["sweep", "--tasks", "tiny_cloze", "--vector", str(vector_file), "--multipliers", "1",
                 "--include-path", str(tmp_path / "absent"), "--output", str(tmp_path / "cli")])
    assert code == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(("split", "documents"), [("train", 50), ("test", 34)])
def test_cli_sweep_split_selects_items(setup, tiny_model_dir, tmp_path, split, documents):
    _, vector_file = setup
    code = main(["sweep", "--tasks", "culture_arabic_morocco_both_ll", "--vector", str(vector_file),
                 "--multipliers", "1", "--model", str(tiny_model_dir), "--device", "cpu", "--split", split,
                 "--log-samples", "--output", str(tmp_path / "cli")])

    assert code == 0
    samples = tmp_path / "cli" / "multiplier_1" / "samples_culture_arabic_morocco_both_ll.jsonl"
    lines = samples.read_text(encoding="utf-8").splitlines()
    assert len(lines) == documents
    assert {json.loads(line)["doc"]["split"] for line in lines} == {split}


def test_cli_sweep_rejects_missing_data_before_model(setup, tmp_path, no_model_loading, capsys):
    _, vector_file = setup
    code = main(["sweep", "--tasks", "culture_arabic_both_ll", "--vector", str(vector_file), "--multipliers", "1",
                 "--data", str(tmp_path / "absent.jsonl"), "--output", str(tmp_path / "cli")])
    assert code == 2
    assert "absent.jsonl" in capsys.readouterr().err

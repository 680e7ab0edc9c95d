"""Generated task files: equal to a fresh generation, complete and loadable by lm-eval."""

from __future__ import annotations

from lm_eval.tasks._yaml_loader import load_yaml

from culturebench.items import LANGUAGE_COUNTRIES
from culturebench.tasks import generate
from culturebench.tasks.table import PROTOCOLS, SETTINGS, TASK_VERSION, group_rows, task_rows


def test_committed_files_match_generation():
    assert generate.differences() == []


def test_task_names_cover_table():
    names = {row.name for row in task_rows()}
    scopes = len(LANGUAGE_COUNTRIES) + sum(len(countries) for countries in LANGUAGE_COUNTRIES.values())
    assert len(names) == scopes * len(SETTINGS) * len(PROTOCOLS)
    for expected in (
        "culture_arabic_nonloc",
        "culture_arabic_both",
        "culture_arabic_egypt_loc",
        "culture_hindi_nepal_both_ll",
        "culture_spanish_mexico_nonloc_oe",
    ):
        assert expected in names


def test_groups_reference_existing_tasks():
    tasks = {row.name for row in task_rows()}
    groups = {group.name: group for group in group_rows()}
    assert groups["culture_arabic"].members == (
        "culture_arabic_egypt_both",
        "culture_arabic_ksa_both",
        "culture_arabic_levantine_both",
        "culture_arabic_morocco_both",
    )
    assert groups["culture_all"].members == tuple(f"culture_{language}" for language in LANGUAGE_COUNTRIES)
    for group in groups.values():
        for member in group.members:
            assert member in tasks or member in groups


def test_files_load_with_lm_eval_yaml_loader():
    files = generate.render_all()
    for name in ("culture_arabic_both.yaml", "culture_arabic_nonloc_ll.yaml", "culture_arabic_loc_oe.yaml"):
        config = load_yaml(generate.OUTPUT_DIR / name)
        assert config["task"] == name.removesuffix(".yaml")
        assert config["metadata"]["version"] == TASK_VERSION
        assert callable(config["custom_dataset"])
        assert callable(config["process_results"])
    assert len(files) == len(list(task_rows())) + len(list(group_rows()))


def test_mcq_task_generation_settings():
    config = load_yaml(generate.OUTPUT_DIR / "culture_arabic_both.yaml")
    generation = config["generation_kwargs"]
    assert "<end_of_turn>" in generation["until"]
    assert "\n\n" not in generation["until"]
    assert generation["do_sample"] is False
    metrics = [metric["metric"] for metric in config["metric_list"]]
    assert metrics == ["acc", "extraction_failed", "acc_loc", "acc_nonloc", "rca", "pnlg"]


def test_single_variant_task_has_no_rca():
    config = load_yaml(generate.OUTPUT_DIR / "culture_arabic_nonloc.yaml")
    metrics = [metric["metric"] for metric in config["metric_list"]]
    assert metrics == ["acc", "extraction_failed"]
    assert config["process_results"].__name__ == "process_mcq"


def test_write_all_removes_stale_files(tmp_path):
    (tmp_path / "culture_old_task.yaml").write_text("task: culture_old_task\n", encoding="utf-8")
    changed = generate.write_all(tmp_path)
    assert changed == len(generate.render_all()) + 1
    assert not (tmp_path / "culture_old_task.yaml").exists()
    assert generate.differences(tmp_path) == []
    assert generate.write_all(tmp_path) == 0


def test_check_flag_reports_difference(tmp_path):
    generate.write_all(tmp_path)
    (tmp_path / "culture_arabic_both.yaml").write_text("edited\n", encoding="utf-8")
    assert generate.main(["--check", "--output", str(tmp_path)]) == 1
    assert generate.differences(tmp_path) == ["differs: culture_arabic_both.yaml"]

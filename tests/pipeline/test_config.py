"""Tests of the run configuration: defaults, YAML/TOML files, overrides, the quick profile and rendering."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from culturebench.errors import CultureBenchError
from culturebench.pipeline.config import (
    QUICK_PROFILE, RunConfig, config_to_dict, field_docs, load_config, render_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_cover_every_method_and_setting():
    config = load_config()
    assert config.methods == ["caa", "sas", "bipo", "yapo"]
    assert config.settings == ["both"]
    assert config.model == "default"
    assert config.out == "runs/default"
    assert config.judge.spec is None


def test_defaults_are_independent_copies():
    first, second = RunConfig(), RunConfig()
    first.methods.append("extra")
    first.train.steps = 1
    assert second.methods == ["caa", "sas", "bipo", "yapo"]
    assert second.train.steps == RunConfig().train.steps


def test_yaml_file_sets_nested_fields(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("country: egypt\nmethods: [caa, yapo]\ntrain:\n  steps: 7\neval:\n  limit: 3\n", encoding="utf-8")
    config = load_config(path)
    assert config.country == "egypt"
    assert config.methods == ["caa", "yapo"]
    assert config.train.steps == 7
    assert config.eval.limit == 3


def test_toml_file_sets_nested_fields(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('country = "spain"\nsettings = ["both"]\n[multipliers]\ncaa = 2\n[judge]\nspec = "openai:gpt-4o-mini"\n',
                    encoding="utf-8")
    config = load_config(path)
    assert config.country == "spain"
    assert config.settings == ["both"]
    assert config.multipliers.caa == 2.0
    assert isinstance(config.multipliers.caa, float)
    assert config.judge.spec == "openai:gpt-4o-mini"


def test_unknown_key_names_key_and_known_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  stepz: 3\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match=r"unknown setting 'train.stepz'.*train.steps"):
        load_config(path)


def test_wrong_type_is_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  steps: many\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="train.steps must be an integer"):
        load_config(path)


def test_table_given_a_scalar_is_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train: 5\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="train must be a table"):
        load_config(path)


def test_unsupported_suffix_is_rejected(tmp_path):
    path = tmp_path / "study.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="use .yaml, .yml or .toml"):
        load_config(path)


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("methods: [caa\n", encoding="utf-8")
    with pytest.raises(CultureBenchError, match="not valid YAML"):
        load_config(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CultureBenchError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("override", "field", "expected"),
    [
        ("train.steps=50", ("train", "steps"), 50),
        ("methods=caa,yapo", ("methods",), ["caa", "yapo"]),
        ("methods=[sas]", ("methods",), ["sas"]),
        ("methods=", ("methods",), []),
        ("layer=null", ("layer",), None),
        ("layer=4", ("layer",), 4),
        ("multipliers.yapo=0.5", ("multipliers", "yapo"), 0.5),
        ("train.learning_rate=5e-2", ("train", "learning_rate"), 0.05),
        ("multipliers.caa=1e1", ("multipliers", "caa"), 10.0),
        ("extract.include_western=true", ("extract", "include_western"), True),
        ("judge.spec=openai-compatible:http://127.0.0.1:8000/v1:m", ("judge", "spec"),
         "openai-compatible:http://127.0.0.1:8000/v1:m"),
        ("country=usa", ("country",), "usa"),
    ],
)
def test_override_sets_typed_value(override, field, expected):
    config = load_config(overrides=[override])
    value = config
    for name in field:
        value = getattr(value, name)
    assert value == expected


def test_override_without_equals_is_rejected():
    with pytest.raises(CultureBenchError, match="use KEY=VALUE"):
        load_config(overrides=["train.steps"])


def test_override_of_unknown_key_is_rejected():
    with pytest.raises(CultureBenchError, match="unknown setting 'eval.limits'"):
        load_config(overrides=["eval.limits=3"])


def test_override_null_for_required_field_is_rejected():
    with pytest.raises(CultureBenchError, match="country cannot be null"):
        load_config(overrides=["country=null"])


def test_order_file_then_quick_then_set_then_out(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("train:\n  steps: 500\n  batch_size: 2\nout: from-file\n", encoding="utf-8")
    config = load_config(path, quick=True, overrides=["eval.limit=9"], out=tmp_path / "run")
    assert config.train.steps == QUICK_PROFILE["train.steps"]
    assert config.train.batch_size == 2
    assert config.eval.limit == 9
    assert config.out == str(tmp_path / "run")


def test_quick_profile_writes_to_its_own_folder():
    assert load_config(quick=True).out == "runs/quick"
    assert load_config(quick=True).methods == ["caa", "sas", "bipo", "yapo"]


def test_rendered_config_reloads_identically(tmp_path):
    config = load_config(overrides=["methods=caa", "judge.spec=openai:gpt-4o-mini", "eval.vectors=[a.safetensors]"])
    path = tmp_path / "rendered.yaml"
    path.write_text(render_config(config), encoding="utf-8")
    assert config_to_dict(load_config(path)) == config_to_dict(config)


def test_rendered_config_documents_every_field():
    rendered = render_config(RunConfig())
    document = yaml.safe_load(rendered)
    assert set(document) == {field.name for field in dataclasses.fields(RunConfig)}
    for name, _, doc in field_docs():
        assert doc, f"{name} has no doc"
        assert f"# {doc}" in rendered


def test_docs_run_md_lists_every_field():
    text = (REPO_ROOT / "docs" / "run.md").read_text(encoding="utf-8")
    for name, _, _ in field_docs():
        assert f"`{name}`" in text, f"docs/run.md does not document {name}"


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "nan", "inf"])
def test_non_finite_numbers_are_rejected(value):
    with pytest.raises(CultureBenchError, match="train.learning_rate must be a finite number"):
        load_config(overrides=[f"train.learning_rate={value}"])


def test_yaml_file_reads_exponent_without_dot(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("train:\n  learning_rate: 5e-2\nmultipliers:\n  bipo: 2e0\n", encoding="utf-8")
    config = load_config(path)
    assert config.train.learning_rate == 0.05
    assert config.multipliers.bipo == 2.0

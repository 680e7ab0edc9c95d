"""Registration with lm-eval: the start-up hook, the task path, the model and the judge factory."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from culturebench import plugin

HOOK_PRESENT = "import sys; print(any(type(f).__name__ == 'LmEvalImportHook' for f in sys.meta_path))"


def run_python(code: str, **env) -> str:
    import os

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return result.stdout.strip()


def test_pth_file_installed():
    path = Path(sysconfig.get_paths()["purelib"]) / plugin.PTH_NAME
    assert path.is_file()
    line = path.read_text(encoding="utf-8")
    assert line.startswith("import ")
    assert "install_import_hook()" in line
    assert plugin.HOOK_ENV in line


def test_hook_installed_at_startup():
    assert run_python(HOOK_PRESENT) == "True"


def test_hook_opt_out_variable():
    assert run_python(HOOK_PRESENT, **{plugin.HOOK_ENV: "0"}) == "False"


def test_startup_does_not_import_lm_eval():
    code = "import sys; print(sorted(m for m in sys.modules if m.startswith(('lm_eval', 'torch', 'culturebench.'))))"
    assert run_python(code) == "['culturebench.plugin']"


def test_hook_ignores_other_modules():
    hook = plugin.LmEvalImportHook()
    assert hook.find_spec("json") is None
    assert hook.find_spec("lm_eval") is None


def test_real_loader_restored_after_import():
    import lm_eval.api.registry
    import lm_eval.tasks

    for module in (lm_eval.tasks, lm_eval.api.registry):
        assert not isinstance(module.__spec__.loader, plugin.NotifyingLoader)
        assert not isinstance(module.__loader__, plugin.NotifyingLoader)


def test_task_manager_finds_culture_tasks():
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False)
    assert "culture_arabic_nonloc" in manager.all_tasks
    assert "culture_all" in manager.all_groups


def test_explicit_include_path_not_duplicated():
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(plugin.task_dir()), include_defaults=False)
    assert manager.include_path == [str(plugin.task_dir())]


def test_with_task_dir_forms(tmp_path):
    ours = str(plugin.task_dir())
    assert plugin.with_task_dir(None) == [ours]
    assert plugin.with_task_dir(str(tmp_path)) == [str(tmp_path), ours]
    assert plugin.with_task_dir([tmp_path]) == [tmp_path, ours]
    assert plugin.with_task_dir(plugin.task_dir()) == [plugin.task_dir()]


def test_steered_hf_registered_on_request():
    from lm_eval.api.registry import get_model

    assert get_model("steered_hf").__module__ == "culturebench.steering.lm_eval_model"
    assert get_model("hf").__name__ == "HFLM"


def test_missing_model_module_tolerated():
    assert plugin.import_model_module("culturebench.steering.no_such_module") is False


def test_broken_model_module_raises(tmp_path, monkeypatch):
    (tmp_path / "broken_model_module.py").write_text("import no_such_dependency\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):
        plugin.import_model_module("broken_model_module")


def test_judge_factory_registered():
    code = (
        "from culturebench import judging, plugin; before = judging._factory; import lm_eval.tasks; "
        "print(before is None, judging._factory is plugin.option_judge_from_spec)"
    )
    assert run_python(code) == "True True"

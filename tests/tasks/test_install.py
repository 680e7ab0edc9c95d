"""Fresh virtual environments: wheel and editable installs both register the culture tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from culturebench.plugin import PTH_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_venv(path: Path) -> Path:
    """Create a venv without pip whose dependencies come from this venv's site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    # A plain path line: this venv's own .pth files (including culturebench's) are not processed.
    Path(purelib, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


def pip_install(python: Path, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", *args],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip())


@pytest.mark.slow
def test_wheel_install_runs_lm_eval(tmp_path, tiny_model_dir, arabic_data):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO_ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("culturebench-*.whl")
    python = make_venv(tmp_path / "venv")
    pip_install(python, str(wheel))
    assert (site_packages(python) / PTH_NAME).is_file()

    env = {**os.environ, "CULTUREBENCH_DATA": str(arabic_data), "OMP_NUM_THREADS": "1"}
    command = [str(python), "-m", "lm_eval", "--tasks", "culture_arabic_nonloc", "--model", "hf",
               "--model_args", f"pretrained={tiny_model_dir}", "--limit", "4"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "|culture_arabic_nonloc|" in result.stdout
    assert "extraction_failed" in result.stdout
    task_file = site_packages(python) / "culturebench" / "tasks" / "culture" / "culture_arabic_nonloc.yaml"
    assert str(task_file) in result.stderr


@pytest.mark.slow
def test_editable_install_registers_tasks(tmp_path):
    python = make_venv(tmp_path / "venv")
    pip_install(python, "--no-build-isolation", "-e", str(REPO_ROOT))
    assert (site_packages(python) / PTH_NAME).is_file()

    code = (
        "import culturebench, lm_eval.tasks; "
        "manager = lm_eval.tasks.TaskManager(include_defaults=False); "
        "print(culturebench.__file__); print('culture_arabic_nonloc' in manager.all_tasks)"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    module_file, found = result.stdout.split()
    assert module_file == str(REPO_ROOT / "culturebench" / "__init__.py")
    assert found == "True"

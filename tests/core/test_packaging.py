"""The wheel installs tasks/, judges/, steering/ and leaderboard/ inside the culturebench namespace."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAPPED = ("tasks", "judges", "steering", "leaderboard")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    shutil.rmtree(REPO_ROOT / "build", ignore_errors=True)  # stale files would leak into the wheel
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("culturebench-*.whl")
    return path


def test_wheel_has_no_bare_top_level_packages(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    for bare in MAPPED:
        assert bare not in top_level, f"{bare}/ leaked to the top level of the wheel"
    for mapped in MAPPED:
        assert f"culturebench/{mapped}/__init__.py" in names


def test_wheel_ships_package_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    seeds = [name for name in names if name.startswith("culturebench/data/seeds/") and name.endswith(".yaml")]
    assert len(seeds) == 5


def test_wheel_imports_from_its_own_files(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # Drop the editable-install finder so the import below can only come from the wheel's files.
    code = (
        "import sys; "
        f"sys.path.insert(0, {str(target)!r}); "
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower() "
        "and 'editable' not in getattr(f, '__name__', '').lower()]; "
        "import culturebench.judges, culturebench.steering, culturebench.tasks, culturebench.leaderboard; "
        "print(culturebench.steering.__file__)"
    )
    # The lm-eval hook's .pth would import culturebench from the editable install at start-up.
    env = dict(os.environ, CULTUREBENCH_LM_EVAL_HOOK="0")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip().startswith(str(target))


def test_editable_install_maps_folders():
    import culturebench.judges
    import culturebench.steering

    assert Path(culturebench.steering.__file__).parent == REPO_ROOT / "steering"
    assert Path(culturebench.judges.__file__).parent == REPO_ROOT / "judges"


def test_no_bare_import_names_installed():
    code = "import importlib.util as u; print([n for n in ('tasks','judges','steering','leaderboard') if u.find_spec(n)])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert result.stdout.strip() == "[]"

"""Modules import only from their own layer or below (base < libraries < presentation < application)."""

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("culturebench.steering", "culturebench.judges", "culturebench.tasks")
PRESENTATION = ("culturebench.leaderboard",)
# Application modules wire everything together and may import any layer.
APPLICATION = ("culturebench.cli", "culturebench.plugin", "culturebench.pipeline", "culturebench.builder")


def module_files(folder: str) -> list[Path]:
    return sorted((REPO_ROOT / folder).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for path in paths
        for name in sorted(imported_modules(path))
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    ]


def base_files() -> list[Path]:
    application_folders = {prefix.split(".")[1] for prefix in APPLICATION}
    return [
        path
        for path in module_files("culturebench")
        if path.relative_to(REPO_ROOT / "culturebench").parts[0].removesuffix(".py") not in application_folders
    ]


def test_base_imports_no_upper_layer():
    assert violations(base_files(), LIBRARIES + PRESENTATION + APPLICATION) == []


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("steering", ("culturebench.judges",) + PRESENTATION + APPLICATION),
        ("judges", ("culturebench.steering",) + PRESENTATION + APPLICATION),
        ("tasks", ("culturebench.judges",) + PRESENTATION + APPLICATION),
        ("leaderboard", LIBRARIES + APPLICATION),
    ],
)
def test_library_layer_boundaries(folder, forbidden):
    assert violations(module_files(folder), forbidden) == []

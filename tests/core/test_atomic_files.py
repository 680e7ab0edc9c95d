"""Atomic writes: the umask decides the mode of results, and a failed write changes nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from culturebench import atomic_files
from culturebench.atomic_files import (
    atomic_open,
    atomic_path,
    current_umask,
    staging_dir,
    write_json_atomic,
    write_text_atomic,
)

# (umask, expected file mode, expected folder mode)
UMASK_CASES = [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)]


@pytest.fixture
def set_umask():
    """Set the process umask for one test and restore the old one afterwards."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".tmp"))


def _write_vector(path: Path) -> None:
    import torch

    from culturebench.steering.vectors import SteeringVector, save_vector

    save_vector(SteeringVector(vector=torch.zeros(4), method="caa", layer=1, space="dense",
                               model_id="tiny/model", hookpoint="model.layers.1"), path)


def _write_checkpoint(path: Path) -> None:
    import torch

    from culturebench.steering.checkpoints import save_checkpoint

    vector = torch.zeros(4, requires_grad=True)
    save_checkpoint(path, vector, torch.optim.AdamW([vector]), step=0, fingerprint="test")


def _write_parquet(path: Path) -> None:
    import pandas

    from culturebench.loaders import _atomic_write_frame

    _atomic_write_frame(pandas.DataFrame({"id": ["a"]}), path)


def _write_sweep_results(path: Path) -> None:
    from culturebench.steering.sweep import _write_json

    _write_json(path, {"results": {}})


def _write_sweep_samples(path: Path) -> None:
    from culturebench.steering.sweep import _write_samples

    _write_samples(path, [{"doc_id": 0}])


def _write_run_state(path: Path) -> None:
    from culturebench.pipeline.state import write_json_atomic as write_state_json

    write_state_json(path, {"key": "value"})


def _write_stage_file(path: Path) -> None:
    from culturebench.builder.stages import write_atomic

    write_atomic(path, b"record\n")


def _write_pairs(path: Path) -> None:
    from culturebench.steering.jsonl_files import rewrite_jsonl

    rewrite_jsonl(path, [{"prompt": "p"}])


def _write_judge_results(path: Path) -> None:
    from culturebench.judges.runner import _write_atomic

    _write_atomic(path, "{}\n")


def _write_task_yaml(path: Path) -> None:
    from culturebench.tasks.generate import _write_atomic

    _write_atomic(path, "task: culture_test\n")


def _write_site_page(path: Path) -> None:
    from culturebench.leaderboard.site import _write_atomically

    _write_atomically(path, "<html></html>\n")


def _write_sae_record(path: Path) -> None:
    from culturebench.sae_training import _write_json

    _write_json(path, {"layer": 1})


WRITERS = {
    "write_text_atomic": lambda path: write_text_atomic(path, "text\n"),
    "write_json_atomic": lambda path: write_json_atomic(path, {"key": "value"}),
    "vector file": _write_vector,
    "training checkpoint": _write_checkpoint,
    "parquet export": _write_parquet,
    "sweep results": _write_sweep_results,
    "sweep samples": _write_sweep_samples,
    "run state": _write_run_state,
    "builder stage file": _write_stage_file,
    "pair file": _write_pairs,
    "judge results": _write_judge_results,
    "task yaml": _write_task_yaml,
    "leaderboard page": _write_site_page,
    "sae training record": _write_sae_record,
}


def test_current_umask_matches_os(set_umask):
    for value in (0o022, 0o077, 0o002):
        set_umask(value)
        assert current_umask() == value


def test_current_umask_without_proc(set_umask, tmp_path, monkeypatch):
    monkeypatch.setattr(atomic_files, "_PROC_STATUS", tmp_path / "missing")
    set_umask(0o027)
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027


@pytest.mark.parametrize(("umask", "file_mode", "folder_mode"), UMASK_CASES)
def test_written_file_mode_follows_umask(set_umask, tmp_path, umask, file_mode, folder_mode):
    set_umask(umask)
    text_path = write_text_atomic(tmp_path / "text.txt", "text\n")
    with atomic_open(tmp_path / "bytes.bin", "wb") as stream:
        stream.write(b"\x00\x01")
    with atomic_path(tmp_path / "named.bin") as temporary:
        temporary.write_bytes(b"\x02")

    assert _mode(text_path) == file_mode
    assert _mode(tmp_path / "bytes.bin") == file_mode
    assert _mode(tmp_path / "named.bin") == file_mode
    assert (tmp_path / "bytes.bin").read_bytes() == b"\x00\x01"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(("umask", "file_mode", "folder_mode"), UMASK_CASES)
def test_staged_folder_mode_follows_umask(set_umask, tmp_path, umask, file_mode, folder_mode):
    from culturebench.pipeline.state import replace_dir

    set_umask(umask)
    target = tmp_path / "site"
    staged = staging_dir(target)
    (staged / "index.html").write_text("page\n", encoding="utf-8")
    replace_dir(staged, target)

    assert _mode(target) == folder_mode
    assert (target / "index.html").read_text(encoding="utf-8") == "page\n"


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize(("umask", "file_mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_result_writers_follow_umask(set_umask, tmp_path, writer, umask, file_mode):
    set_umask(umask)
    path = tmp_path / "out" / "result"
    WRITERS[writer](path)

    assert _mode(path) == file_mode
    assert _leftovers(path.parent) == []


def test_text_newlines_and_encoding_kept(tmp_path):
    path = write_text_atomic(tmp_path / "text.txt", "Café\nçay\n")
    assert path.read_bytes() == "Café\nçay\n".encode("utf-8")


@pytest.mark.parametrize("mode", ["w", "wb"])
def test_failed_write_keeps_old_target(tmp_path, mode):
    target = tmp_path / "result.json"
    target.write_text("old\n", encoding="utf-8")

    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_open(target, mode) as stream:
            stream.write("partial" if mode == "w" else b"partial")
            raise RuntimeError("writer failed")

    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["result.json"]


def test_failed_named_write_leaves_nothing(tmp_path):
    target = tmp_path / "vector.safetensors"

    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_path(target) as temporary:
            temporary.write_bytes(b"partial")
            raise RuntimeError("writer failed")

    assert list(tmp_path.iterdir()) == []


def test_atomic_open_rejects_read_mode(tmp_path):
    with pytest.raises(ValueError, match="'r'"):
        with atomic_open(tmp_path / "file", "r"):
            pass

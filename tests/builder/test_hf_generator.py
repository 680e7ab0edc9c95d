"""A local transformers generator (`hf:PATH`) runs through the same client, cache and drop reports."""

from __future__ import annotations

import json

from culturebench.cli import main

SEEDS = """\
languages:
  english: [usa, uk]
topics:
  food:
    breakfast:
      - What do I eat for breakfast before work?
"""


def test_truncated_local_replies_are_dropped(tiny_model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(SEEDS, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["build-dataset", "--seeds", str(seeds), "--generator", f"hf:{tiny_model_dir}", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--max-tokens", "4", "--no-progress"])

    assert code == 2
    message = capsys.readouterr().err
    assert "no items survived" in message
    assert "output_truncated" in message
    report = json.loads((out / "stages" / "02-experts.report.json").read_text(encoding="utf-8"))
    # Four tokens cut every reply short: two experts and the control, each dropped with the reason.
    assert report["dropped_by_reason"] == {"output_truncated": 3}
    assert report["usage"]["requests"] == 3
    # Truncated replies were paid for, so they are cached like any other.
    (cache_file,) = (tmp_path / "cache").glob("hf_*.jsonl")
    assert len(cache_file.read_text(encoding="utf-8").splitlines()) == 3

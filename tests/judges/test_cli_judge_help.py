"""`culturebench judge --help` describes what the command does."""

import re

import pytest

from culturebench.cli import main


def _help(capsys) -> str:
    with pytest.raises(SystemExit) as exited:
        main(["judge", "--help"])
    assert exited.value.code == 0
    # argparse wraps lines to the terminal width; join them so phrases can be searched.
    return re.sub(r"\s+", " ", capsys.readouterr().out)


def test_help_names_summary_file(capsys):
    text = _help(capsys)
    assert "<out>.summary.json" not in text
    assert "judge.jsonl: judge.summary.json" in text


def test_help_describes_samples_and_retries(capsys):
    text = _help(capsys)
    assert "file of a generation task" in text
    assert "searched recursively for samples_*_oe_*.jsonl" in text
    assert "429, 5xx, timeout or connection error" in text
    assert "exits 2 when the judge scored no answer" in text
    assert "hf needs no key" in text

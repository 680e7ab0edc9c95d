"""The command-line entry point: exit codes and messages for user errors and interrupts."""

from __future__ import annotations

from culturebench import cli
from culturebench.errors import CultureBenchError


def _command_raising(error, monkeypatch):
    import culturebench.cli.model as model_command

    def fail(args):
        raise error

    monkeypatch.setattr(model_command, "run_info", fail)
    return ["model", "info", "default"]


def test_interrupt_exits_130_without_traceback(monkeypatch, capsys):
    argv = _command_raising(KeyboardInterrupt(), monkeypatch)

    assert cli.main(argv) == 130
    error = capsys.readouterr().err
    assert "culturebench model: interrupted" in error
    assert "Traceback" not in error


def test_user_error_exits_2(monkeypatch, capsys):
    argv = _command_raising(CultureBenchError("bad value"), monkeypatch)

    assert cli.main(argv) == 2
    assert "culturebench model: error: bad value" in capsys.readouterr().err

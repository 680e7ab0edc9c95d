"""Build hooks that install `culturebench-lm-eval.pth` at the top of site-packages.

All metadata lives in pyproject.toml. The `.pth` file lets a plain `lm_eval` command find the
culture_* tasks and the steered_hf model (see culturebench/plugin.py). Python runs `.pth` files
only from the top of a site directory, so the file must sit beside the package, not inside it:

- regular wheels: `build_py` writes it at the root of the build folder, which becomes the wheel
  root, which pip installs into site-packages;
- editable installs (PEP 660): setuptools builds a separate editable wheel and ignores the build
  folder, so `editable_wheel` adds the file to that wheel as well.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH_NAME = "culturebench-lm-eval.pth"
# One line, executed by site.py because it starts with `import`. It checks the opt-out
# variable before importing anything from culturebench.
PTH_LINE = (
    "import os; os.environ.get('CULTUREBENCH_LM_EVAL_HOOK', '1') == '0' "
    "or __import__('culturebench.plugin').plugin.install_import_hook()\n"
)


class BuildPyWithPth(build_py):
    """Write the `.pth` file at the root of the build folder (the wheel root)."""

    def run(self):
        super().run()
        path = Path(self.build_lib, PTH_NAME)
        path.write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, PTH_NAME))]


class EditableWheelWithPth(editable_wheel):
    """Add the `.pth` file to the editable wheel next to setuptools' own finder files."""

    # NOTE: `_select_strategy` is a private setuptools method, present from 64 to at least 84.
    # A build with a setuptools that lacks it fails here instead of installing without the hook.
    def _select_strategy(self, name, tag, build_lib):
        return _StrategyWithPth(super()._select_strategy(name, tag, build_lib))


class _StrategyWithPth:
    def __init__(self, strategy):
        self._strategy = strategy

    def __enter__(self):
        self._strategy.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._strategy.__exit__(*exc_info)

    def __call__(self, wheel, files, mapping):
        self._strategy(wheel, files, mapping)
        wheel.writestr(PTH_NAME, PTH_LINE.encode("utf-8"))


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})

"""Make the `culture_*` tasks and the `steered_hf` model visible to a plain `lm_eval` command.

lm-eval 0.4.x has no plugin entry points, so culturebench installs `culturebench-lm-eval.pth`
beside its package. Python runs that file at every start-up, and it calls `install_import_hook`,
which only puts `LmEvalImportHook` at the front of `sys.meta_path`. The hook ignores every module
except `lm_eval.tasks` and `lm_eval.api.registry`; when one of them finishes loading,
`on_lm_eval_import` patches it:

- `TaskManager.__init__` appends culturebench's task folder to `include_path`;
- `get_model` imports `culturebench.steering.lm_eval_model`, whose `@register_model` adds
  `steered_hf`, the first time a culturebench model name is requested;
- the option judge factory of `culturebench.judging` is set to one that loads
  `culturebench.judges` on first use.

Start-up cost is importing this file; everything else waits until lm-eval itself is imported.
Only the standard library is imported at module level for that reason. Set
CULTUREBENCH_LM_EVAL_HOOK=0 to skip the hook (the `.pth` file checks it before importing).
"""

from __future__ import annotations

import sys

HOOK_ENV = "CULTUREBENCH_LM_EVAL_HOOK"
PTH_NAME = "culturebench-lm-eval.pth"
WATCHED_MODULES = frozenset({"lm_eval.tasks", "lm_eval.api.registry"})
# lm-eval model names and the module whose import registers each of them.
PLUGIN_MODELS = {"steered_hf": "culturebench.steering.lm_eval_model"}
_PATCHED = "_culturebench_patched"
_judge_factory_set = False


class LmEvalImportHook:
    """Meta path finder that wraps the loaders of the watched lm-eval modules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in WATCHED_MODULES:
            return None

        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = NotifyingLoader(spec.loader)
        return spec


class NotifyingLoader:
    """Loader wrapper that calls `on_lm_eval_import` after the real loader ran the module."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        # Reloads and resource lookups must see the real loader.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        try:
            on_lm_eval_import(module)
        except Exception:  # noqa: BLE001 - a culturebench bug must not break lm-eval itself
            import logging

            logging.getLogger(__name__).warning(
                "culturebench could not register with lm-eval after importing %s", module.__name__, exc_info=True
            )

    def __getattr__(self, name):
        return getattr(self._loader, name)


def install_import_hook() -> None:
    """Put the hook first on `sys.meta_path` once; patch at once if lm-eval is already imported."""
    if any(isinstance(finder, LmEvalImportHook) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, LmEvalImportHook())
    if any(name in sys.modules for name in WATCHED_MODULES):
        activate()


def activate() -> None:
    """Patch the watched lm-eval modules that are already imported (safe to call repeatedly)."""
    for name in sorted(WATCHED_MODULES):
        module = sys.modules.get(name)
        if module is not None:
            on_lm_eval_import(module)


def on_lm_eval_import(module) -> None:
    """Patch one freshly imported lm-eval module (`lm_eval.tasks` or `lm_eval.api.registry`)."""
    if module.__name__ == "lm_eval.tasks":
        _patch_task_manager(module.TaskManager)
    elif module.__name__ == "lm_eval.api.registry":
        _patch_get_model(module)
    _register_option_judge()


def task_dir():
    """Return the folder lm-eval searches for culturebench's task files.

    It is the `culturebench.tasks` package, and lm-eval searches it recursively: the generated
    `culture_*` files sit in `culture/`, the `mmlu_local_*` and `behaviour_*` files in
    `generalisation/`.
    """
    from pathlib import Path

    import culturebench.tasks

    return Path(culturebench.tasks.__file__).resolve().parent


def with_task_dir(include_path):
    """Return `include_path` (None, a path or a list of paths) as a list that ends with `task_dir()`."""
    from pathlib import Path

    if include_path is None:
        paths = []
    elif isinstance(include_path, (list, tuple)):
        paths = list(include_path)
    else:
        paths = [include_path]
    ours = task_dir()
    if not any(Path(path).expanduser().resolve() == ours for path in paths):
        paths.append(str(ours))
    return paths


def _patch_task_manager(task_manager_class) -> None:
    import functools
    import inspect
    import logging

    original = task_manager_class.__init__
    if getattr(original, _PATCHED, False):
        return
    signature = inspect.signature(original)
    if "include_path" not in signature.parameters:
        logging.getLogger(__name__).warning(
            "this lm-eval's TaskManager takes no include_path; culture_* tasks need --include_path %s", task_dir()
        )
        return

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.arguments["include_path"] = with_task_dir(bound.arguments.get("include_path"))
        original(*bound.args, **bound.kwargs)

    setattr(__init__, _PATCHED, True)
    task_manager_class.__init__ = __init__


def _patch_get_model(registry) -> None:
    import functools

    original = registry.get_model
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    def get_model(model_name, *args, **kwargs):
        if model_name in PLUGIN_MODELS:
            import_model_module(PLUGIN_MODELS[model_name])
        return original(model_name, *args, **kwargs)

    setattr(get_model, _PATCHED, True)
    registry.get_model = get_model


def import_model_module(module_name: str) -> bool:
    """Import the module that registers a culturebench model; return False if it is not installed."""
    import importlib
    import logging

    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        logging.getLogger(__name__).debug("%s is not available: %s", module_name, error)
        return False
    return True


def _register_option_judge() -> None:
    global _judge_factory_set
    if _judge_factory_set:
        return
    from culturebench import judging

    judging.set_option_judge_factory(option_judge_from_spec)
    _judge_factory_set = True


def option_judge_from_spec(spec: str):
    """Build an option judge with `culturebench.judges.option_judge_from_spec`, imported on first use."""
    from culturebench import judges
    from culturebench.errors import CultureBenchError

    factory = getattr(judges, "option_judge_from_spec", None)
    if factory is None:
        raise CultureBenchError(
            f"cannot build the option judge {spec!r}: this culturebench.judges has no option_judge_from_spec"
        )
    return factory(spec)

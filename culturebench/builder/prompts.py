"""Versioned jinja2 prompt templates of the dataset builder and their rendering.

Each template file has a `system` and a `user` block. The task data travels as one JSON object
in the user message, after the line `Input:`. A changed prompt gets a new file and version, and
the version is part of every reply's cache key, so replies to an old prompt are never reused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from culturebench.judges.rubrics import Rubric

@dataclass(frozen=True)
class PromptTemplate:
    """One prompt: its name, version and template file."""

    name: str
    version: str
    template_file: str

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def rubric(self) -> Rubric:
        """The identity the judge client caches replies under (the name carries a `build_` prefix)."""
        return Rubric(f"build_{self.name}", self.version, self.template_file)

    def render(self, task_input: dict[str, Any], **fields: Any) -> tuple[str, str]:
        """Return the (system, user) texts for `fields`, with `task_input` as the user message's JSON."""
        template = _environment().get_template(self.template_file)
        input_json = json.dumps(task_input, ensure_ascii=False, indent=1)
        context = template.new_context({**fields, "input_json": input_json})
        system = "".join(template.blocks["system"](context)).strip()
        user = "".join(template.blocks["user"](context)).strip()
        return system, user


EXPERT = PromptTemplate("expert", "1", "expert_v1.j2")
CONTROL = PromptTemplate("control", "1", "control_v1.j2")
OPTIONS = PromptTemplate("options", "1", "options_v1.j2")
VARIANTS = PromptTemplate("variants", "1", "variants_v1.j2")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("culturebench.builder", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        auto_reload=False,
    )

"""Prompt templates: one Markdown file per step in prompts/, with {placeholders}."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources


class PromptError(KeyError):
    pass


@cache
def template(name: str) -> str:
    """The text of prompts/<name>.md as shipped inside the package (verifix.prompts)."""
    try:
        return (resources.files("verifix.prompts") / f"{name}.md").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        raise PromptError(f"no prompt template named {name!r} in verifix/prompts") from None


def placeholders(name: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template(name)) if f}


def render(name: str, /, **values: object) -> str:
    """Fill a template; every placeholder must be given and nothing extra (typos fail loudly)."""
    wanted = placeholders(name)
    missing, extra = wanted - values.keys(), values.keys() - wanted
    if missing or extra:
        raise PromptError(f"prompt {name!r}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    return template(name).format(**values).strip() + "\n"

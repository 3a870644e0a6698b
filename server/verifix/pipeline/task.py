"""What to implement and what we trust about it, read from the user's source.

Trusted checks are only what the user wrote: the examples in the docstring, the project's
existing tests that call the function, and tests the user pointed at. Nothing the model writes
is ever trusted.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from verifix import code as pycode
from verifix.cancel import Cancelled  # noqa: F401  (re-exported)
from verifix.sandbox.checks import Check
from verifix.sandbox.interpreter import Interpreter


class TaskError(ValueError):
    """The target cannot be worked on; the message is one line for the user."""


@dataclass
class Related:
    """A project function the target calls: shown to repair, which may fix it instead."""

    path: Path
    relpath: str  # relative to the project root
    qualname: str
    fn: pycode.FunctionInfo
    source: str  # its module's text when the task was made

    @property
    def key(self) -> str:
        return f"{self.relpath}::{self.qualname}"


@dataclass
class Task:
    name: str
    qualname: str
    source: str  # the module the function lives in (for HumanEval: the prompt)
    fn: pycode.FunctionInfo
    stub: str  # what the model sees of the function (signature + docstring)
    context: str  # module context for prompts (imports, helpers), may be ""
    examples: list[pycode.Example]
    trusted_checks: list[Check]  # the docstring's examples, run by Sandbox.run_checks
    project_tests: list[str] = field(default_factory=list)  # pytest node ids (trusted)
    project_root: Path | None = None
    module_relpath: str | None = None  # the module's path relative to project_root
    python: Interpreter | None = None  # runs project_tests (None: verifix's own)
    file: str | None = None
    # For "repair failing test": the test that must pass and what it printed when it failed.
    oracle_test: str | None = None
    oracle_failure: str = ""
    test_code: str = ""
    test_path: Path | None = None  # the file the oracle test is in
    guard_code: str = ""  # the source of the tests that passed before (regression guards)
    related: list[Related] = field(default_factory=list)

    def changed_since(self, read: Callable[[Path], str | None]) -> bool:
        """Whether what this task was made from says something else now: its module, the
        related functions' modules, or the oracle test (`read` gives a file's current text,
        None when unreadable). A result verified against the old text is stale."""
        modules = [(Path(self.file), self.source)] if self.file else []
        modules += [(r.path, r.source) for r in self.related]
        if any(read(path) != text for path, text in modules):
            return True
        if self.test_path is None or self.oracle_test is None:
            return False
        current = read(self.test_path)
        name = self.oracle_test.split("::", 1)[1].partition("[")[0].replace("::", ".")
        fn = pycode.find_function(current, name) if current is not None else None
        return fn is None or fn.text != self.test_code

    @property
    def trusted_total(self) -> int:
        return len(self.trusted_checks) + len(self.project_tests)

    @property
    def example_inputs(self) -> list[str]:
        # Examples that need doctest setup lines are only usable as checks, not bare inputs.
        return [e.call for e in self.examples if not e.setup]


def stub_text(fn: pycode.FunctionInfo, source: str, with_body: bool = False) -> str:
    """The function as shown to the model: decorators, signature and docstring, dedented."""
    raw = source.encode("utf-8")
    if with_body:
        text = raw[fn.start_byte : fn.end_byte].decode("utf-8")
    else:
        end = fn.docstring_end_byte if fn.docstring_end_byte is not None else fn.body_start_byte
        text = raw[fn.start_byte : end].decode("utf-8").rstrip()
        if fn.docstring_end_byte is None:
            text = text.rstrip()
    text = fn.indent + text  # the first line starts at the def's column
    return textwrap.dedent(text).rstrip() + "\n"


def from_source(
    source: str,
    qualname: str,
    *,
    file: str | None = None,
    project_root: Path | None = None,
    with_tests: bool = True,
) -> Task:
    fn = pycode.find_function(source, qualname)
    if fn is None:
        where = f" in {file}" if file else ""
        raise TaskError(f"no function named {qualname!r}{where}")
    examples = pycode.function_examples(fn)
    checks = pycode.example_checks(examples)
    project_tests: list[str] = []
    module_relpath = None
    if project_root is not None and file is not None:
        module_path = Path(file).resolve()
        try:
            module_relpath = module_path.relative_to(project_root.resolve()).as_posix()
        except ValueError:
            module_relpath = None
        if with_tests and module_relpath is not None:
            refs = pycode.find_tests(project_root, fn.name, module_path)
            project_tests = [r.node_id for r in refs]
    context = pycode.module_context(source, fn).strip()
    return Task(
        name=fn.name,
        qualname=fn.qualname,
        source=source,
        fn=fn,
        stub=stub_text(fn, source),
        context=context + "\n\n\n" if context else "",
        examples=examples,
        trusted_checks=checks,
        project_tests=project_tests,
        project_root=project_root,
        module_relpath=module_relpath,
        file=file,
    )


def with_changes(source: str, changes: dict[str, str]) -> str:
    """`source` with functions replaced: {qualname: new definition}, each found again by name."""
    for qualname, code in changes.items():
        fn = pycode.find_function(source, qualname)
        if fn is None:
            raise TaskError(f"{qualname} is no longer in its module")
        source = pycode.splice(source, fn, code)
    return source


def compose(source: str, fn: pycode.FunctionInfo, function_code: str,
            imports: list[str] | None = None, helpers: list[str] | None = None) -> str:
    """The module with `function_code` in place of `fn`, plus the imports and helpers it needs."""
    text = pycode.splice(source, fn, function_code)
    if imports:
        text = pycode.add_imports(text, imports)
    if helpers:
        text = text.rstrip("\n") + "\n\n\n" + "\n\n\n".join(h.strip() for h in helpers) + "\n"
    return text


def changed_modules(task: Task, function_code: str, imports: list[str], helpers: list[str],
                    changes: dict[str, str]) -> dict[str, str]:
    """Every module a candidate changes, {path relative to the project: new text}: the target's
    module first (what is tested is what is applied)."""
    by_module: dict[str, dict[str, str]] = {}
    sources: dict[str, str] = {}
    for related in task.related:
        if related.key in changes:
            by_module.setdefault(related.relpath, {})[related.qualname] = changes[related.key]
            sources[related.relpath] = related.source
    target = task.module_relpath or ""
    out = {target: with_changes(compose(task.source, task.fn, function_code, imports, helpers),
                                by_module.pop(target, {}))}
    for relpath, functions in by_module.items():
        out[relpath] = with_changes(sources[relpath], functions)
    return out


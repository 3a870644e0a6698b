"""The project's tests: which test functions call a function (find_tests), and their pytest
node ids."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

from verifix.code.functions import list_functions
from verifix.code.parsing import ParsedModule, parse, walk
from verifix.code.project_imports import SKIP_DIRS, file_imports, read_text, resolve_import


@dataclass(frozen=True)
class TestRef:
    """A test function in the project: its file, qualname and pytest node id."""

    __test__ = False  # not a pytest test class

    path: Path
    qualname: str
    node_id: str


def is_test_file(path: str | Path) -> bool:
    """pytest's default test file names: test_*.py and *_test.py."""
    name = Path(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def node_id(project_root: Path, path: Path, qualname: str) -> str:
    """The pytest node id of the test `qualname` (a function or Class.method) in `path`. Like
    pytest, a symlinked file keeps its own path: symlinks are resolved only when the path is not
    below the root without it. ValueError when the file is outside the root."""
    root, path = Path(os.path.abspath(project_root)), Path(os.path.abspath(path))
    if not path.is_relative_to(root):
        root, path = root.resolve(), path.resolve()
    return path.relative_to(root).as_posix() + "::" + qualname.replace(".", "::")


def _test_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if is_test_file(name):
                found.append(Path(dirpath) / name)
    return found


def _calls_in(mod: ParsedModule, node: tree_sitter.Node) -> list[tuple[str, str | None]]:
    """(called name, the dotted object it is called on or None) for each call under `node`."""
    out: list[tuple[str, str | None]] = []
    for n in walk(node):
        if n.type != "call":
            continue
        func = n.child_by_field_name("function")
        if func is None:
            continue
        if func.type == "identifier":
            out.append((mod.text(func), None))
        elif func.type == "attribute":
            attr = func.child_by_field_name("attribute")
            obj = func.child_by_field_name("object")
            if attr is not None:
                out.append((mod.text(attr), mod.text(obj) if obj is not None else ""))
    return out


def find_tests(project_root: Path, func_name: str,
               module_path: Path | None = None) -> list[TestRef]:
    """Test functions (in test_*.py / *_test.py under the project, virtualenvs, build output and
    hidden directories skipped) whose body calls `func_name` directly, as `module.func_name(...)`
    or as a method `.func_name(...)`. With `module_path`, only tests whose call resolves to that
    file are kept (a method call counts when the test file imports something from it)."""
    project_root = Path(project_root)
    wanted = Path(module_path).resolve() if module_path is not None else None
    refs: list[TestRef] = []
    needle = re.compile(r"(?<![\w])" + re.escape(func_name) + r"\b")
    for path in _test_files(project_root):
        text = read_text(path)
        if text is None or not needle.search(text):
            continue
        mod = parse(text)
        info = file_imports(mod) if wanted is not None else None
        cache: dict[str, bool] = {}

        def comes_from_module(name: str, path: Path = path, cache: dict[str, bool] = cache) -> bool:
            if name not in cache:
                found = resolve_import(project_root, path, name)
                cache[name] = found is not None and found[0].resolve() == wanted
            return cache[name]

        for fn in list_functions(mod):
            if not fn.is_test:
                continue
            body_start = fn.def_start_byte
            node = mod.root.descendant_for_byte_range(body_start, fn.end_byte)
            while node is not None and node.type != "function_definition":
                node = node.parent
            if node is None:
                continue
            hit = False
            for called, obj in _calls_in(mod, node):
                if called != func_name:
                    continue
                if wanted is None or info is None:
                    hit = True
                elif obj is None:
                    hit = func_name not in info.defined and comes_from_module(func_name)
                else:
                    head = obj.split(".")[0]
                    hit = head in info.names and comes_from_module(obj + "." + func_name)
                    if not hit:  # a method called on an instance: the file imports from it
                        hit = any(comes_from_module(n) for n, (_m, attr) in info.names.items()
                                  if attr is not None)
                if hit:
                    break
            if hit:
                refs.append(TestRef(path, fn.qualname, node_id(project_root, path, fn.qualname)))
    return refs

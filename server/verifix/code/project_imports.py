"""Where a test file's names come from: following its imports to the project file that defines
them (resolve_import), and the names a test calls that are its code under test."""

from __future__ import annotations

import ast
import configparser
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tomllib
import tree_sitter

from verifix.code.functions import FunctionInfo, find_function
from verifix.code.parsing import ParsedModule, parse, walk

# directories that hold no project code: virtualenvs, build output, caches, VCS data
SKIP_DIRS = frozenset({
    ".venv", "venv", "env", ".env", "node_modules", ".git", ".hg", ".svn", "build", "dist",
    "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
    ".eggs", "htmlcov",
})


def read_text(path: Path) -> str | None:
    """The file's text (undecodable bytes replaced), or None when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@dataclass
class ImportInfo:
    """What a file's import statements bind, and what it defines itself."""

    names: dict[str, tuple[str, str | None]]  # bound name -> (module, attribute or None)
    star: list[str]  # modules imported with *
    defined: set[str]  # names the file defines itself (def / class / assignment)


def file_imports(mod: ParsedModule) -> ImportInfo:
    """The names `mod` imports (at any depth) and the ones it defines at the top level."""
    names: dict[str, tuple[str, str | None]] = {}
    star: list[str] = []
    for node in walk(mod.root):
        if node.type not in ("import_statement", "import_from_statement"):
            continue
        try:
            stmt = ast.parse(textwrap.dedent(mod.text(node))).body[0]
        except (SyntaxError, ValueError, IndexError):
            continue
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    names[a.asname] = (a.name, None)
                else:
                    names.setdefault(a.name.split(".")[0], (a.name.split(".")[0], None))
                    names[a.name] = (a.name, None)
        elif isinstance(stmt, ast.ImportFrom):
            module = "." * (stmt.level or 0) + (stmt.module or "")
            for a in stmt.names:
                if a.name == "*":
                    star.append(module)
                else:
                    names[a.asname or a.name] = (module, a.name)
    defined = {name for name, node in _top_level_names(mod) if node.type in _DEFINITIONS
               or node.type == "identifier"}
    return ImportInfo(names, star, defined)


_DEFINITIONS = ("function_definition", "class_definition")


def _top_level_names(mod: ParsedModule) -> Iterator[tuple[str, tree_sitter.Node]]:
    """(name, node) for each top-level function or class (its definition) and assignment (its
    left-hand side), in source order."""
    for child in mod.root.children:
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        if target.type in _DEFINITIONS:
            n = target.child_by_field_name("name")
            if n is not None:
                yield mod.text(n), target
        elif child.type == "expression_statement" and child.named_child_count and \
                child.named_children[0].type == "assignment":
            left = child.named_children[0].child_by_field_name("left")
            if left is not None:
                yield mod.text(left), left


def _search_roots(project_root: Path, test_file: Path) -> list[Path]:
    """Directories an import may be resolved from, as pytest (rootdir/basedir) and a src layout
    would put them on sys.path."""
    roots: list[Path] = []
    d = test_file.parent
    while (d / "__init__.py").exists() and d != d.parent:  # pytest's "basedir" (rootdir-less)
        d = d.parent
    configured = [project_root / entry for entry in pytest_pythonpath(project_root)]
    for r in (d, test_file.parent, *configured, project_root, project_root / "src"):
        if r.is_dir() and r not in roots:
            roots.append(r)
    return roots


def pytest_pythonpath(project_root: Path) -> list[str]:
    """The `pythonpath` entries of the project's pytest configuration, in pytest's order of
    files: pytest.ini, pyproject.toml, tox.ini, setup.cfg (the first that configures pytest)."""
    for name, section in (("pytest.ini", "pytest"), ("pyproject.toml", None),
                          ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = project_root / name
        text = read_text(path) if path.is_file() else None
        if text is None:
            continue
        if section is None:
            try:
                options = tomllib.loads(text).get("tool", {}).get("pytest", {})
            except tomllib.TOMLDecodeError:
                continue
            if "ini_options" not in options:
                continue
            value = options["ini_options"].get("pythonpath", [])
            return [value] if isinstance(value, str) else [str(v) for v in value]
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            continue
        if parser.has_section(section):
            return parser.get(section, "pythonpath", fallback="").split()
    return []


def _module_file(roots: list[Path], module: str, test_file: Path) -> Path | None:
    """The file of `module` (a package's __init__.py), looked up from `roots`, or for a relative
    module from the test file's own package."""
    if module.startswith("."):
        base = test_file.parent
        for _ in range(len(module) - len(module.lstrip(".")) - 1):
            base = base.parent
        rest = module.lstrip(".")
        bases, parts = [base], rest.split(".") if rest else []
    else:
        bases, parts = roots, module.split(".")
    for base in bases:
        p = base.joinpath(*parts)
        if parts and p.with_suffix(".py").is_file():
            return p.with_suffix(".py")
        if (p / "__init__.py").is_file():
            return p / "__init__.py"
    return None


def _defines(mod: ParsedModule, qualname: str) -> bool:
    head = qualname.split(".")[0]
    for name, node in _top_level_names(mod):
        if name != head:
            continue
        if node.type not in _DEFINITIONS or "." not in qualname:
            return True
        # "Class.method" needs the method; a class may get it from a base class
        return find_function(mod, qualname) is not None or node.type == "class_definition"
    return False


def _resolve_in_module(project_root: Path, path: Path, qualname: str,
                       depth: int = 0) -> tuple[Path, str] | None:
    """Follow re-exports (`from .impl import f` in a package's __init__) to the defining file."""
    if depth > 6:
        return None
    text = read_text(path)
    if text is None:
        return None
    mod = parse(text)
    if _defines(mod, qualname):
        return path, qualname
    head, _, rest = qualname.partition(".")
    info = file_imports(mod)
    roots = _search_roots(project_root, path)
    if head in info.names:
        module, attr = info.names[head]
        return _follow(project_root, roots, path, module, attr, rest, depth + 1)
    # `from pkg import mod` written as attribute access: pkg/__init__ may not import it
    sub = path.parent / head
    if path.name == "__init__.py":
        if sub.with_suffix(".py").is_file() and rest:
            return _resolve_in_module(project_root, sub.with_suffix(".py"), rest, depth + 1)
        if (sub / "__init__.py").is_file() and rest:
            return _resolve_in_module(project_root, sub / "__init__.py", rest, depth + 1)
    for module in info.star:
        target = _module_file(roots, module, path)
        if target is not None:
            found = _resolve_in_module(project_root, target, qualname, depth + 1)
            if found is not None:
                return found
    return None


def _follow(project_root: Path, roots: list[Path], from_file: Path, module: str,
            attr: str | None, rest: str, depth: int) -> tuple[Path, str] | None:
    if attr is None:  # `import pkg.mod [as m]`: rest is inside that module (or a submodule)
        parts = rest.split(".") if rest else []
        for i in range(len(parts), -1, -1):
            target = _module_file(roots, ".".join([module] + parts[:i]), from_file) \
                if not module.startswith(".") else None
            if target is not None and i < len(parts):
                return _resolve_in_module(project_root, target, ".".join(parts[i:]), depth)
        return None
    target = _module_file(roots, module, from_file)
    # `from pkg import mod`: attr may be a submodule
    sub = _module_file(roots, (module + "." if not module.endswith(".") else module) + attr,
                       from_file)
    if sub is not None and rest and (target is None or not _defines(parse(read_text(target) or ""),
                                                                     attr)):
        return _resolve_in_module(project_root, sub, rest, depth)
    if target is None:
        return None
    return _resolve_in_module(project_root, target, attr + ("." + rest if rest else ""), depth)


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return not any(part in SKIP_DIRS for part in path.resolve().relative_to(root.resolve()).parts)


def resolve_import(project_root: Path, test_file: Path, name: str) -> tuple[Path, str] | None:
    """The project file that defines `name` as the test file sees it, and its qualname there.

    `name` is a name the test file uses: "add" (`from pkg.mod import add`), "m.add"
    (`import pkg.mod as m`), "pkg.mod.add" (`import pkg.mod`), "Calc.add" (a method of an
    imported class). Relative imports and re-exports through packages are followed. None when
    the name does not come from a file inside the project.
    """
    project_root = Path(project_root)
    test_file = Path(test_file)
    text = read_text(test_file)
    if text is None:
        return None
    mod = parse(text)
    info = file_imports(mod)
    roots = _search_roots(project_root, test_file)
    parts = name.split(".")
    found = None
    for i in range(len(parts), 0, -1):  # the longest bound prefix: "pkg.mod" before "pkg"
        bound = ".".join(parts[:i])
        if bound in info.names:
            module, attr = info.names[bound]
            found = _follow(project_root, roots, test_file, module, attr, ".".join(parts[i:]), 0)
            break
    if found is None and parts[0] not in info.names:
        for module in info.star:
            target = _module_file(roots, module, test_file)
            if target is not None:
                found = _resolve_in_module(project_root, target, name, 1)
                if found is not None:
                    break
    if found is None or not _within(found[0], project_root):
        return None
    return found


def called_functions(test_fn: str | FunctionInfo, test_file_source: str, *,
                     project_root: Path | None = None,
                     test_file: Path | None = None) -> list[str]:
    """Names the test calls that come from other modules (its code under test), in call order:
    "add" for `from pkg.mod import add`, "m.add" for `m.add(...)` on an imported module, and
    "Calc.add" for `Calc(...).add(...)` or `c = Calc(); c.add(...)` with Calc imported.
    Standard-library and test-tool imports are left out; with `project_root` and `test_file`
    only names that `resolve_import` finds inside the project are kept."""
    file_mod = parse(test_file_source)
    info = file_imports(file_mod)
    if isinstance(test_fn, FunctionInfo):
        fn_text = test_fn.text
        if fn_text.startswith("@") or test_fn.indent:
            fn_text = textwrap.dedent(test_fn.indent + fn_text)
    else:
        fn_text = textwrap.dedent(test_fn)
    mod = parse(fn_text)
    ignored = set(getattr(sys, "stdlib_module_names", ())) | {
        "pytest", "unittest", "mock", "hypothesis", "numpy", "pandas"}

    def from_project(bound: str) -> bool:
        module = info.names[bound][0]
        return module.split(".")[0] not in ignored or module.startswith(".")

    instances: dict[str, str] = {}  # variable -> imported class name
    for n in walk(mod.root):
        if n.type == "assignment":
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            if left is not None and right is not None and left.type == "identifier" \
                    and right.type == "call":
                func = right.child_by_field_name("function")
                if func is not None and func.type == "identifier" and \
                        mod.text(func) in info.names and from_project(mod.text(func)):
                    instances[mod.text(left)] = mod.text(func)
    names: list[str] = []
    for n in walk(mod.root):
        if n.type != "call":
            continue
        func = n.child_by_field_name("function")
        if func is None:
            continue
        candidate = None
        if func.type == "identifier":
            name = mod.text(func)
            if name in info.names and from_project(name):
                candidate = name
        elif func.type == "attribute":
            obj = func.child_by_field_name("object")
            attr = func.child_by_field_name("attribute")
            if obj is None or attr is None:
                continue
            obj_text = mod.text(obj)
            if obj.type == "call":
                inner = obj.child_by_field_name("function")
                if inner is not None and inner.type == "identifier" and \
                        mod.text(inner) in info.names and from_project(mod.text(inner)):
                    candidate = mod.text(inner) + "." + mod.text(attr)
            elif obj_text in instances:
                candidate = instances[obj_text] + "." + mod.text(attr)
            elif obj_text in info.names and from_project(obj_text):
                candidate = obj_text + "." + mod.text(attr)
        if candidate and candidate not in names:
            names.append(candidate)
    # a class whose method the test calls is not itself the code under test
    names = [c for c in names if "." in c or not any(m.startswith(c + ".") for m in names)]
    if project_root is not None and test_file is not None:
        names = [c for c in names if resolve_import(project_root, test_file, c) is not None]
    return names



def project_callees(project_root: Path, path: Path, fn: FunctionInfo, source: str,
                    depth: int = 2, limit: int = 6) -> list[tuple[Path, str]]:
    """Functions of the project that `fn` calls, and those they call (to `depth`), in call
    order: module-level functions of its own module and functions it imports from project
    files. Where a bug may hide when `fn` itself looks right."""
    out: list[tuple[Path, str]] = []
    seen = {(path.resolve(), fn.qualname)}
    frontier = [(path, fn, source)]
    for _ in range(depth):
        nxt: list[tuple[Path, FunctionInfo, str]] = []
        for file, func, text in frontier:
            for target in _direct_callees(project_root, file, func, text):
                key = (target[0].resolve(), target[1])
                if key in seen:
                    continue
                seen.add(key)
                target_text = read_text(target[0])
                found = find_function(target_text, target[1]) if target_text else None
                if found is None or target_text is None:
                    continue
                out.append(target)
                nxt.append((target[0], found, target_text))
                if len(out) >= limit:
                    return out
        frontier = nxt
    return out


def _direct_callees(project_root: Path, path: Path, fn: FunctionInfo,
                    source: str) -> list[tuple[Path, str]]:
    module = parse(source)
    own = {name for name, node in _top_level_names(module) if node.type == "function_definition"}
    body = parse(textwrap.dedent(fn.indent + fn.text) if fn.indent else fn.text)
    found: list[tuple[Path, str]] = []
    for n in walk(body.root):
        func = n.child_by_field_name("function") if n.type == "call" else None
        if func is not None and func.type == "identifier" and body.text(func) in own \
                and body.text(func) != fn.name:
            found.append((path, body.text(func)))
    for name in called_functions(fn, source):
        resolved = resolve_import(project_root, path, name)
        if resolved is not None:
            found.append(resolved)
    return found

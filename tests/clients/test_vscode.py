"""The VS Code extension (clients/vscode): its manifest against the server's contract, and its
own build, lint, unit and smoke tests (npm test) plus `vsce package`."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import attrs
import pytest

from verifix import config
from verifix.lsp import protocol as P

VSCODE = Path(__file__).resolve().parents[2] / "clients" / "vscode"
MANIFEST = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
PREFIX = "verifix."
CLIENT_ONLY = {"verifix.interpreter", "verifix.server.tcp", "verifix.server.socket",
               "verifix.server.tokenFile", "verifix.trace.server"}
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _properties() -> dict[str, dict[str, Any]]:
    sections = MANIFEST["contributes"]["configuration"]
    out: dict[str, dict[str, Any]] = {}
    for section in sections if isinstance(sections, list) else [sections]:
        for key, spec in section["properties"].items():
            assert key not in out, f"{key} contributed twice"
            out[key] = spec
    return out


def _field(key: str) -> attrs.Attribute:
    head, _, tail = key.partition(".")
    field = attrs.fields_dict(config.Settings)[head]
    return attrs.fields_dict(field.default.factory)[tail] if tail else field


def _default(key: str) -> Any:
    value: Any = config.to_dict(config.Settings())
    for part in key.split("."):
        value = value[part]
    return value


def _resolve(t: Any) -> Any:
    return eval(t, {"Literal": Literal}) if isinstance(t, str) else t  # noqa: S307 - our annotations


def _bounds(field: attrs.Attribute) -> tuple[Any, Any]:
    """(lo, hi) of a config._range validator; (None, None) without one."""
    if field.validator is None:
        return None, None
    nonlocals = inspect.getclosurevars(field.validator).nonlocals
    return nonlocals.get("lo"), nonlocals.get("hi")


def test_settings_mirror_the_server_settings_model():
    props = _properties()
    fields = config.field_types()
    contributed = {k.removeprefix(PREFIX) for k in props if k not in CLIENT_ONLY}
    assert all(k.startswith(PREFIX) for k in props)
    assert CLIENT_ONLY <= set(props)
    assert contributed == set(fields), (
        f"missing in package.json: {sorted(set(fields) - contributed)}; "
        f"unknown to the server: {sorted(contributed - set(fields))}")
    for key, kind in fields.items():
        spec, default, kind = props[PREFIX + key], _default(key), _resolve(kind)
        if get_origin(kind) is Literal:
            assert spec["type"] == "string", key
            assert spec.get("enum") == list(get_args(kind)), key
            assert len(spec.get("enumDescriptions", spec["enum"])) == len(spec["enum"]), key
        else:
            assert spec["type"] == JSON_TYPES[kind], key
            assert "enum" not in spec, key
        assert spec["default"] == default and type(spec["default"]) in (type(default), int), (
            f"{key}: package.json default {spec['default']!r}, server default {default!r}")
        lo, hi = _bounds(_field(key))
        assert spec.get("minimum") == lo, f"{key}: minimum {spec.get('minimum')!r} != {lo!r}"
        assert spec.get("maximum") == hi, f"{key}: maximum {spec.get('maximum')!r} != {hi!r}"
        assert spec.get("description") or spec.get("markdownDescription"), key


def test_palette_commands_are_distinct_from_the_server_commands():
    ids = [c["command"] for c in MANIFEST["contributes"]["commands"]]
    assert len(ids) == len(set(ids))
    assert not set(ids) & set(P.COMMANDS), "vscode-languageclient registers the server's ids"
    assert all(i.startswith("verifix.client.") for i in ids)
    assert {i.rsplit(".", 1)[1] for i in ids} == {
        "generate", "repair", "cancel", "showLog", "restart"}
    submenus = {s["id"] for s in MANIFEST["contributes"].get("submenus", [])}
    for menu, items in MANIFEST["contributes"]["menus"].items():
        for item in items:
            assert item.get("command") in ids or item.get("submenu") in submenus, (menu, item)
    context = MANIFEST["contributes"]["menus"]["editor/context"]
    assert any(item.get("submenu") in submenus for item in context)


def test_engines_and_versions_fit_together():
    engine = MANIFEST["engines"]["vscode"].lstrip("^~")
    types = MANIFEST["devDependencies"]["@types/vscode"].lstrip("^~")
    as_tuple = lambda v: tuple(int(x) for x in v.split(".")[:2])  # noqa: E731
    assert as_tuple(types) <= as_tuple(engine), "vsce refuses @types/vscode newer than engines"
    assert MANIFEST["dependencies"]["vscode-languageclient"] == "9.0.1"
    assert MANIFEST["devDependencies"]["typescript"].lstrip("^~").startswith("5.9.")
    assert (VSCODE / "package-lock.json").is_file(), "npm ci needs the lock file"


def _ts_constants() -> dict[str, str]:
    text = (VSCODE / "src" / "protocol.ts").read_text(encoding="utf-8")
    return dict(re.findall(r"^export const (\w+) = '([^']*)';", text, re.M))


def _ts_interface(name: str) -> set[str]:
    text = (VSCODE / "src" / "protocol.ts").read_text(encoding="utf-8")
    body = re.search(rf"^export interface {name} \{{(.*?)^\}}", text, re.M | re.S)
    assert body, f"interface {name} not in protocol.ts"
    return set(re.findall(r"^\s+(\w+)\??:", body.group(1), re.M))


def test_protocol_ts_mirrors_protocol_py():
    consts = _ts_constants()
    for name in ("GENERATE", "REPAIR", "APPLY_FIX", "CANCEL", "STATUS", "STATUS_NOTIFICATION",
                 "JOB_UPDATE_NOTIFICATION", "CONFIG_SECTION", "DIAGNOSTIC_SOURCE", "ANNOTATION_ID",
                 "TITLE_GENERATE", "TITLE_REPAIR", "TITLE_APPLY_FIX", "TEST_ENGINE_ENV"):
        assert consts.get(name) == getattr(P, name), name
    for name, value in consts.items():
        assert getattr(P, name) == value, name
    for cls in (P.GenerateArgs, P.ApplyFixArgs, P.CancelArgs, P.JobInfo, P.ServerStatus,
                P.JobUpdate, P.JobOutcome, P.InterimAnswer):
        assert _ts_interface(cls.__name__) == {f.name for f in attrs.fields(cls)}, cls.__name__
    assert {f.name for f in attrs.fields(P.RepairArgs)} == _ts_interface("GenerateArgs")


# -- npm: build, lint, unit and smoke tests, package ------------------------------------------
NPM = shutil.which("npm")


def _npm_ci_needed() -> bool:
    """node_modules missing, or not what package-lock.json says (npm's hidden lock file)."""
    hidden = VSCODE / "node_modules" / ".package-lock.json"
    if not hidden.is_file():
        return True
    want = json.loads((VSCODE / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    have = json.loads(hidden.read_text(encoding="utf-8"))["packages"]
    missing = [p for p, meta in want.items() if p and not meta.get("optional") and p not in have]
    changed = [p for p, meta in have.items()
               if want.get(p, {}).get("version") != meta.get("version")]
    return bool(missing or changed)


def _run(args: list[str], timeout: float) -> str:
    env = {**os.environ, "VERIFIX_PYTHON_FOR_TESTS": sys.executable, "NO_COLOR": "1"}
    proc = subprocess.run(args, cwd=VSCODE, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{out[-6000:]}"
    return out


@pytest.mark.skipif(NPM is None, reason="npm is not on PATH: the VS Code extension needs Node.js "
                    ">= 20 and npm to build and test")
@pytest.mark.timeout(1200)  # npm ci on a fresh clone downloads the packages
def test_npm_test_and_vsce_package(tmp_path):
    if _npm_ci_needed():
        _run([NPM, "ci", "--no-audit", "--no-fund"], timeout=600)
    out = _run([NPM, "test"], timeout=300)
    counts = dict(re.findall(r"^# (pass|fail|skipped) (\d+)$", out, re.M))
    assert counts.get("fail") == "0" and counts.get("skipped") == "0", out[-3000:]
    assert int(counts["pass"]) >= 40, out[-3000:]

    vsix = VSCODE / f"{MANIFEST['name']}-{MANIFEST['version']}.vsix"
    vsix.unlink(missing_ok=True)
    _run([NPM, "run", "package", "--", "--out", vsix.name], timeout=180)
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
    assert "extension/package.json" in names and "extension/out/src/extension.js" in names
    assert {"extension/readme.md", "extension/changelog.md", "extension/LICENSE.txt",
            "extension/" + MANIFEST["icon"]} <= names
    assert "extension/node_modules/vscode-languageclient/node.js" in names
    assert not any(n.startswith(("extension/src/", "extension/test/", "extension/out/test/"))
                   for n in names)
    assert not any("/@vscode/vsce/" in n or "/typescript/" in n for n in names), "no dev deps"

    # Everything extension.js requires is inside the .vsix (.vscodeignore trims it): load it
    # with the unit tests' fake `vscode` and make a (not started) LanguageClient.
    with zipfile.ZipFile(vsix) as z:
        z.extractall(tmp_path)
    script = (
        "const dir = process.argv[1];"
        "const e = require(dir + '/extension.js');"
        "const lc = require(dir + '/languageClient.js');"
        "const v = require('vscode');"
        "lc.createLanguageClient({kind: 'stdio', python: 'python3'},"
        " {initializationOptions: () => ({}), configuration: () => ({}), executeCommand: () => 0,"
        " outputChannel: v.window.createOutputChannel('verifix')});"
        "if (typeof e.activate !== 'function') process.exit(3);"
    )
    preload = VSCODE / "out" / "test" / "fake" / "register.js"
    proc = subprocess.run([shutil.which("node") or "node", "--require", str(preload), "-e", script,
                           str(tmp_path / "extension" / "out" / "src")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

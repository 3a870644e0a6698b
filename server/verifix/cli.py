"""verifix command line: model management, doctor, benchmarks (and, as they land, the pipeline)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifix import __version__, config, models
from verifix.engine.base import EngineError

if TYPE_CHECKING:
    from verifix.pipeline.events import Event
    from verifix.pipeline.result import Result


class CliError(Exception):
    """A one-line reason for exit code 2."""


def _common_flags() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("settings (override pyproject [tool.verifix] and VERIFIX_* env)")
    g.add_argument("--project", type=Path, default=None, help="project dir (default: cwd)")
    g.add_argument("--model", help="registered model name or path to a .gguf file")
    g.add_argument("--backend", choices=["llama", "openai"])
    g.add_argument("--url", help="OpenAI-compatible server URL (backend openai)")
    g.add_argument("--gpu-layers", type=int, dest="gpuLayers", help="-1: all")
    g.add_argument("--ctx", type=int, dest="contextSize", help="context size in tokens")
    g.add_argument("--threads", type=int, help="CPU threads (0: auto)")
    g.add_argument("--python", help="the Python that runs the project's tests (default: the "
                   "project's venv)")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting by its camelCase key, e.g. sandbox.allowWeak=true",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common_flags()
    parser = argparse.ArgumentParser(
        prog="verifix",
        description="Local, verified code generation with a small model on your own machine.",
    )
    parser.add_argument("--version", action="version", version=f"verifix {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model = sub.add_parser("model", help="list, locate and assemble the models")
    msub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    ml = msub.add_parser("list", parents=[common], help="registered models and their state")
    ml.add_argument("--json", action="store_true")
    mp = msub.add_parser("path", parents=[common], help="print the path of the (assembled) model")
    mp.add_argument("name", nargs="?")
    mf = msub.add_parser("fetch", parents=[common], help="assemble and verify a model")
    mf.add_argument("name", nargs="?")

    for name, target_help, help_text in (
        ("generate", "FILE::QUALNAME", "write a verified implementation of a function"),
        ("repair", "TEST_FILE::TEST_NAME", "fix the code a failing test exercises"),
    ):
        p = sub.add_parser(name, parents=[common], help=help_text)
        p.add_argument("target", metavar=target_help)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--apply", action="store_true",
                       help="write a verified result into the file (only the function changes)")
        p.add_argument("--force", action="store_true",
                       help="with --apply: also write a plausible or unverified result")
        p.add_argument("--quiet", action="store_true", help="no progress on stderr")

    doctor = sub.add_parser("doctor", parents=[common], help="check model, llama.cpp and sandbox")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--no-generate", action="store_true", help="skip the tokens/s probe")

    bench = sub.add_parser("bench", help="benchmarks")
    bsub = bench.add_subparsers(dest="suite", required=True, metavar="SUITE")
    be = bsub.add_parser(
        "engine",
        parents=[common],
        help="engine tokens/s vs raw llama-cpp-python; shared-prefix reuse",
    )
    be.add_argument("--tokens", type=int, default=128)
    be.add_argument("--repeats", type=int, default=3)
    be.add_argument("--json", action="store_true")
    bh = bsub.add_parser("humaneval", parents=[common],
                         help="HumanEval: greedy vs sample-k vs the pipeline, hidden tests score")
    bh.add_argument("--mode", help="comma-separated: greedy, sample-k, pipeline, or pipeline "
                    "switches joined with + (no-generated-checks, [no-]plans, [no-]repair, "
                    "[no-]resample, wave-1|2|4); default greedy,pipeline")
    bh.add_argument("--tasks", help="'subset' (every 4th task), 'all', or ids like 0,4,HumanEval/7")
    bh.add_argument("--limit", type=int, help="only the first N selected tasks")
    bh.add_argument("--out", default="bench-results/humaneval", help="output directory")
    bh.add_argument("--resume", action="store_true", help="keep finished tasks in --out")
    br = bsub.add_parser("repair", parents=[common],
                         help="HumanEvalFix: repair of a failing test, hidden tests score")
    br.add_argument("--protocol", default="tests,heldout",
                    help="comma-separated: tests (the full test is the project's test), heldout "
                    "(example_test visible, the full test hidden); default both")
    br.add_argument("--mode", help="comma-separated: greedy-fix, pipeline, or pipeline switches "
                    "joined with + ([no-]rewrites, [no-]fixes, [no-]repair-rounds, wave-1|2|4); "
                    "default greedy-fix,pipeline")
    br.add_argument("--tasks", help="'subset' (40: every 4th task), 'all', N (the first N), or "
                    "ids like 0,4,Python/7")
    br.add_argument("--limit", type=int, help="only the first N selected tasks")
    br.add_argument("--data", help="humanevalpack-python.jsonl[.gz] (default: the copy shipped "
                    "in verifix/bench/data/)")
    br.add_argument("--out", default="bench-results/humanevalfix", help="output directory")
    br.add_argument("--resume", action="store_true", help="keep finished tasks in --out")
    bs = bsub.add_parser("sandbox", help="sandbox checks/s and project-test latency")
    bs.add_argument("rest", nargs=argparse.REMAINDER)
    bl = bsub.add_parser("lsp", help="language server: codeAction/hover latency during a job")
    bl.add_argument("--requests", type=int, default=300)
    bl.add_argument("--functions", type=int, default=60, help="functions in the document")
    bl.add_argument("--real", action="store_true", help="use the configured model")
    bl.add_argument("--json", action="store_true")
    bl.add_argument("--case", choices=["latency", "onsave"],
                    help="latency (default): codeAction/hover during a job; onsave: didSave -> "
                    "test diagnostic -> background repair -> verified fix offered, on "
                    "HumanEvalFix tasks with the real model")
    bl.add_argument("--tasks", type=int, help="onsave: the first N tasks of the HumanEvalFix "
                    "subset (default 10)")
    bl.add_argument("--model", help="onsave: registered model name or path to a .gguf file")
    bl.add_argument("--data", help="onsave: humanevalpack-python.jsonl[.gz]")

    serve = sub.add_parser("serve", help="language server (stdio; --socket or --tcp for a "
                                         "shared server)")
    shared = serve.add_mutually_exclusive_group()
    shared.add_argument("--socket", metavar="PATH", nargs="?", const="",
                        help="listen on a UNIX socket only you can open (default: "
                             "verifix.sock in your runtime directory)")
    shared.add_argument("--tcp", metavar="HOST:PORT",
                        help="listen on a loopback address, e.g. 127.0.0.1:2087; clients "
                             "need the token the server writes to a file only you can read")
    return parser


def load_settings(args: argparse.Namespace) -> config.Settings:
    flat: dict[str, Any] = {}
    for key in ("model", "backend", "url", "gpuLayers", "contextSize", "threads", "python"):
        value = getattr(args, key, None)
        if value is not None:
            flat[key] = value
    if getattr(args, "name", None):
        flat["model"] = args.name
    for item in getattr(args, "set", []) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise config.SettingsError([f"--set {item!r}: expected KEY=VALUE"])
        flat[key.strip()] = config.parse_value(key.strip(), value)
    project = getattr(args, "project", None) or Path.cwd()
    return config.load(project, cli=config.nest(flat))


# -- model ---------------------------------------------------------------------------------
def cmd_model(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if args.model_command == "list":
        rows: list[dict[str, Any]] = []
        for spec in models.REGISTRY.values():
            try:
                models.locate_parts(spec)
                installed = True
            except models.ModelError:
                installed = False
            rows.append(
                {
                    "name": spec.name,
                    "description": spec.description,
                    "size": spec.size,
                    "installed": installed,
                    "assembled": models.is_ready(spec),
                    "path": str(models.model_path(spec)),
                    "extra": spec.extra,
                    "default": spec.name == models.DEFAULT_MODEL,
                }
            )
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                state = (
                    "ready"
                    if r["assembled"]
                    else "installed"
                    if r["installed"]
                    else (f"not installed: pip install 'verifix[{r['extra']}]'")
                )
                mark = "*" if r["default"] else " "
                print(f"{mark} {r['name']:<22} {r['size'] / 1e6:7.0f} MB  {state}")
                print(f"    {r['description']}")
        return 0
    if args.model_command == "path":
        resolved = models.resolve(settings.model, assemble=False)
        print(resolved.path)
        return 0
    # fetch
    wanted = models.lookup(settings.model)
    if wanted is None:
        resolved = models.resolve(settings.model)
        print(f"{resolved.path}: a valid GGUF file ({resolved.info.name}), nothing to fetch")
        return 0
    was_ready = models.is_ready(wanted)
    path = models.fetch(wanted, progress=None if was_ready else _progress_printer(wanted.name))
    if not was_ready:
        print(file=sys.stderr)
    print(path)
    return 0


def _progress_printer(name: str) -> models.Progress:
    last = [-1]

    def show(done: int, total: int) -> None:
        pct = done * 100 // max(total, 1)
        if pct != last[0]:
            last[0] = pct
            print(f"\rassembling {name}: {pct:3d}%", end="", file=sys.stderr, flush=True)

    return show


# -- doctor --------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    from verifix.doctor import run_doctor

    report = run_doctor(load_settings(args), generate=not args.no_generate,
                        cwd=(args.project or Path.cwd()).resolve())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for check in report["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            print(f"{mark} {check['name']:<11} {check['detail']}")
            if not check["ok"] and check.get("remedy"):
                print(f"     {'':<11} fix: {check['remedy']}")
        print("all good" if report["ok"] else "something needed is missing (see fix: above)")
    return 0 if report["ok"] else 1


# -- bench ---------------------------------------------------------------------------------
def cmd_bench(args: argparse.Namespace) -> int:
    if args.suite == "engine":
        from verifix.bench.engine_speed import run_engine_bench

        settings = load_settings(args)
        result = run_engine_bench(settings, tokens=args.tokens, repeats=args.repeats)
        print(json.dumps(result, indent=2) if args.json else result["markdown"])
        return 0
    if args.suite == "humaneval":
        from verifix.bench import humaneval

        try:
            return humaneval.main(None, load_settings(args), args)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if args.suite == "repair":
        from verifix.bench import repair as repair_bench

        try:
            return repair_bench.main(None, load_settings(args), args)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if args.suite == "sandbox":
        from verifix.bench import sandbox_speed as sandbox_bench

        return sandbox_bench.main(args.rest)
    if args.suite == "lsp":
        from verifix.bench import lsp_latency as lsp_bench

        return lsp_bench.main([f"--requests={args.requests}", f"--functions={args.functions}",
                               *(["--real"] if args.real else []),
                               *(["--json"] if args.json else []),
                               *([f"--case={args.case}"] if args.case else []),
                               *([f"--tasks={args.tasks}"] if args.tasks is not None else []),
                               *([f"--model={args.model}"] if args.model else []),
                               *([f"--data={args.data}"] if args.data else [])])
    raise CliError(f"unknown benchmark suite {args.suite!r}")


# -- generate / repair ----------------------------------------------------------------------
def cmd_job(args: argparse.Namespace) -> int:
    return run_cli_job(args.command, args.target, load_settings(args), as_json=args.json,
                       apply=args.apply, force=args.force, quiet=args.quiet)


def _printer(quiet: bool) -> Callable[[Event], None]:
    if quiet:
        return lambda _event: None

    def show(event: Event) -> None:
        print(f"[{event.percent:3d}%] {event.phase:<10} {event.message}", file=sys.stderr)
        if event.interim:  # a preview while the job runs; only the final answer is written
            print(textwrap.indent(event.interim.code.rstrip(), "    "), file=sys.stderr)

    return show


def run_cli_job(kind: str, target: str, settings: config.Settings, *, as_json: bool, apply: bool,
                force: bool, quiet: bool) -> int:
    from verifix.pipeline.jobs import error_result, execute, prepare
    from verifix.pipeline.targets import ApplyError, apply_result
    from verifix.pipeline.task import TaskError
    from verifix.runtime import open_engine, open_sandbox
    from verifix.sandbox import SandboxError, SandboxUnavailable

    try:
        with open_sandbox(settings) as sandbox:
            # The target is read (and a failing test confirmed) before the model loads, so bad
            # input fails fast.
            try:
                task, src = prepare(kind, target, sandbox, python=settings.python)
            except TaskError as exc:
                return _report(error_result(target, str(exc)), as_json)
            try:
                engine = open_engine(settings)
            except (models.ModelError, EngineError) as exc:
                return _report(error_result(target, str(exc)), as_json)
            try:
                result = execute(kind, task, settings, engine, sandbox,
                                 _printer(quiet or as_json))
            finally:
                engine.close()
    except (SandboxUnavailable, SandboxError) as exc:  # e.g. no isolation: one line too
        return _report(error_result(target, str(exc)), as_json)
    applied = ""
    if apply and task is not None and src is not None and result.code:
        if result.status == "verified" or force:
            try:
                written = apply_result(result, task, src)
                applied = f"applied to {', '.join(str(p) for p in written)}"
            except (ApplyError, TaskError, OSError) as exc:
                # The job worked but the edit was refused (e.g. the file changed meanwhile):
                # the user's file is untouched, and a script must notice.
                _report(result, as_json, f"not applied: {exc}")
                print(f"verifix: not applied: {exc}", file=sys.stderr)
                return 2
        else:
            applied = f"not applied: the result is {result.status} (use --force to apply anyway)"
    return _report(result, as_json, applied)


def _report(result: Result, as_json: bool, applied: str = "") -> int:
    if as_json:
        data = result.to_json()
        if applied:
            data["applied"] = applied
        print(json.dumps(data, indent=2))
    else:
        e = result.evidence
        print(f"{result.status.upper()}: {result.function or ''} — {result.message}")
        if result.code:
            print()
            print(result.code.rstrip())
            for change in result.changes:
                print(f"\nand {change['function']} in {change['file']}:\n")
                print(change["code"].rstrip())
            print()
            print(f"evidence: trusted checks {e.trusted_passed}/{e.trusted_total}, "
                  f"agreement {e.agreeing}/{e.considered} on {e.inputs} generated inputs, "
                  f"{e.candidates} candidates, {e.repairs} repairs; "
                  f"{result.prompt_tokens}+{result.completion_tokens} tokens, "
                  f"{result.seconds:.1f} s")
        if applied:
            print(applied)
    if result.status == "error":
        print(f"verifix: {result.message}", file=sys.stderr)
    return result.exit_code


# -- serve ---------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from verifix.lsp.serve import ServeError, default_socket, parse_tcp, run

    try:
        tcp = parse_tcp(args.tcp) if args.tcp else None
        unix = None if args.socket is None else (
            Path(args.socket).expanduser() if args.socket else default_socket())
        return run(tcp, unix)
    except (ValueError, ServeError, OSError) as exc:
        raise CliError(str(exc)) from None


COMMANDS = {"serve": cmd_serve, "model": cmd_model, "doctor": cmd_doctor, "bench": cmd_bench,
            "generate": cmd_job, "repair": cmd_job}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        return COMMANDS[args.command](args)
    except config.SettingsError as exc:
        for line in exc.lines:
            print(f"verifix: {line}", file=sys.stderr)
        return 2
    except (models.ModelError, EngineError, CliError) as exc:
        print(f"verifix: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"verifix: interrupted after {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return 130

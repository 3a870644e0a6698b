"""Language-server latency: initialize -> first response, and textDocument/codeAction and
textDocument/hover p50/p99 while a model job runs (`verifix bench lsp`).

By default the job's model is the scripted test engine, slowed to a steady token stream, so
the figure measures the server (event loop, tree-sitter, JSON-RPC), not the model; `--real`
runs the configured model instead (the job then also competes for the CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from verifix.lsp.latency_client import run


def markdown(r: dict[str, Any]) -> str:
    return "\n".join([
        f"verifix language server, {r['document_lines']}-line document, {r['requests']} requests "
        f"each while a job runs ({r['engine']}; running throughout: "
        f"{r['job_running_throughout']})",
        "",
        "| measure | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|",
        f"| textDocument/codeAction | {r['codeAction_ms']['p50']} | {r['codeAction_ms']['p99']} "
        f"| {r['codeAction_ms']['max']} |",
        f"| textDocument/hover | {r['hover_ms']['p50']} | {r['hover_ms']['p99']} "
        f"| {r['hover_ms']['max']} |",
        "",
        f"initialize -> response, server already started: {r['initialize_ms']} ms; "
        f"process spawn -> initialize response (cold, median of 3): "
        f"{r['spawn_to_initialize_ms']} ms",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verifix bench lsp", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--functions", type=int, default=60, help="functions in the document")
    parser.add_argument("--real", action="store_true", help="use the configured model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.requests, args.functions, args.real))
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

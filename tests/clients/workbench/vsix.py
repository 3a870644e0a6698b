"""The extension as users get it: a .vsix built from clients/vscode (`npm run package`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

VSCODE = Path(__file__).resolve().parents[3] / "clients" / "vscode"


def build(out_dir: Path) -> Path:
    """Compiles and packages the extension into out_dir (the repository's own .vsix, which
    test_vscode.py writes, is left alone)."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: the VS Code extension needs Node.js and npm")
    if not (VSCODE / "node_modules" / ".package-lock.json").is_file():
        _run([npm, "ci", "--no-audit", "--no-fund"], timeout=600)
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    vsix = out_dir / f"{manifest['name']}-{manifest['version']}.vsix"
    # vscode:prepublish compiles the TypeScript first.
    _run([npm, "run", "package", "--", "--out", str(vsix)], timeout=300)
    return vsix


def _run(args: list[str], timeout: float) -> None:
    proc = subprocess.run(args, cwd=VSCODE, env={**os.environ, "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (
        f"{' '.join(args)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-6000:]}")

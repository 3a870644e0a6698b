"""The package type-checks: mypy (a dev dependency) finds no error in server/verifix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import verifix

PACKAGE = Path(verifix.__file__).parent


def test_mypy_finds_no_error(tmp_path):
    pytest.importorskip("mypy")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), str(PACKAGE)],
        cwd=PACKAGE.parent.parent, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]

"""Isolation detection, the refusal message, the bwrap command line, and the weak fallback."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import SETSID_PROBE, marker, needs_pytest_inside, needs_strong, wait_gone

from verifix.sandbox import Sandbox, SandboxUnavailable, boundary, detect_isolation


@pytest.fixture
def fresh_detection() -> Iterator[None]:
    boundary._detect.cache_clear()
    yield
    boundary._detect.cache_clear()


def test_no_bwrap_refuses_with_a_remedy(monkeypatch: pytest.MonkeyPatch,
                                        fresh_detection: None) -> None:
    monkeypatch.delenv(boundary.FORCE_WEAK_ENV, raising=False)
    monkeypatch.setattr(boundary, "find_bwrap", lambda: None)
    with pytest.raises(SandboxUnavailable) as caught:
        Sandbox()
    message = str(caught.value)
    assert "sudo apt-get install bubblewrap" in message and "\n" not in message
    with Sandbox(allow_weak=True) as sb:
        assert sb.isolation == "weak"
        assert sb.run_checks("def f():\n    return 3\n", ["assert f() == 3"]).passed


def test_broken_bwrap_on_ubuntu_mentions_apparmor(monkeypatch: pytest.MonkeyPatch,
                                                  fresh_detection: None) -> None:
    monkeypatch.delenv(boundary.FORCE_WEAK_ENV, raising=False)
    monkeypatch.setattr(boundary, "probe", lambda bwrap, as_root: (
        False, "bwrap: setting up uid map: Permission denied\n"))
    monkeypatch.setattr(boundary, "_sysctl", lambda name: (
        "1" if name == "kernel.apparmor_restrict_unprivileged_userns" else None))
    found = detect_isolation()
    assert found.level == "weak" and "uid map" in found.reason
    assert "apparmor_restrict_unprivileged_userns" in found.remedy
    with pytest.raises(SandboxUnavailable, match="AppArmor"):
        Sandbox()


@needs_strong
def test_bwrap_command_line_is_minimal() -> None:
    bwrap = detect_isolation(force_weak=False).bwrap
    assert bwrap is not None
    argv = boundary.bwrap_argv(bwrap, as_root=os.geteuid() == 0, scratch_mb=64, tmp_mb=64)
    joined = " ".join(argv)
    network = "--unshare-net" if os.geteuid() == 0 else "--unshare-all"
    for flag in ("--die-with-parent", "--new-session", "--clearenv", network, "--remount-ro /",
                 "--proc /proc", "--dev /dev", "--cap-drop ALL"):
        assert flag in joined
    assert "--bind " not in joined  # read-only binds only; the scratch is a tmpfs
    sources = [argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"]
    allowed = {"/usr", "/etc/ld.so.cache", str(boundary.WORKER_FILE), *boundary.python_roots(),
               "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}
    home = os.path.realpath(os.path.expanduser("~"))
    for source in sources:
        assert source in allowed, source
        assert not source.startswith(("/run", "/var/run")), source
        assert source != home and not home.startswith(source.rstrip("/") + "/"), source
    assert os.path.realpath(sys.base_prefix) in sources or sys.base_prefix.startswith("/usr")
    assert os.path.realpath(sys.prefix) in sources or sys.prefix.startswith("/usr")


@pytest.fixture
def weak(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv(boundary.FORCE_WEAK_ENV, "1")
    with Sandbox(timeout_s=2, memory_mb=512) as sb:
        yield sb


def test_weak_mode_via_env_var(weak: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    assert weak.isolation == "weak"
    monkeypatch.setenv("VERIFIX_PROBE_SECRET", "weak-secret")
    report = weak.run_checks(
        "import os\ndef f(x):\n    return x + 1\n",
        ["assert f(1) == 2", "assert f(1) == 3", "while True: pass",
         "os.environ.get('VERIFIX_PROBE_SECRET')", "bytearray(3 << 30)"])
    assert report.isolation == "weak"
    assert [r.status for r in report.results] == ["passed", "failed", "timeout", "passed",
                                                  "error"]
    assert report.results[3].value == "None"  # even weak isolation passes no environment


def test_weak_mode_still_kills_what_a_run_started(weak: Sandbox) -> None:
    mark = marker()
    report = weak.run_checks(SETSID_PROBE.format(mark=mark), ["probe()"])
    assert report.results[0].status == "passed"
    assert wait_gone(mark) == []


@needs_pytest_inside
def test_weak_mode_project_tests(weak: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_ok():\n    assert 1\n\n"
                                          "def test_bad():\n    assert 0, 'nope'\n")
    report = weak.run_project_tests(tmp_path, {}, ["test_one.py::test_ok",
                                                   "test_one.py::test_bad"])
    assert [r.status for r in report.results] == ["passed", "failed"]
    assert "nope" in report.results[1].message

"""The bubblewrap boundary: what is visible inside, and whether it works on this machine.

Inside: /usr (and the /bin, /lib... links or dirs as the system has them), /etc/ld.so.cache, the
interpreter's prefixes and the venv read-only, the worker file, a size-limited scratch tmpfs and
/tmp, a fresh /proc and minimal /dev, no network, no other namespace shared, an empty environment.
Nothing under $HOME but the interpreter's own directories, nothing of /run, no socket.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from verifix.sandbox.errors import SandboxUnavailable

FORCE_WEAK_ENV = "VERIFIX_SANDBOX_FORCE_WEAK"
INSIDE_WORKER = "/opt/verifix-sandbox/worker.py"
INSIDE_SCRATCH = "/sandbox"
NOBODY = 65534
WORKER_FILE = Path(__file__).with_name("worker.py")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
_INSTALL_HINT = "install bubblewrap: sudo apt-get install bubblewrap"


@dataclass(frozen=True)
class Isolation:
    """What this machine offers: "strong" (bubblewrap works), "weak" (rlimits only) or "none"."""

    level: Literal["strong", "weak", "none"]
    reason: str
    remedy: str = ""  # one line: how to get strong isolation
    bwrap: str | None = None
    forced: bool = False  # weak because VERIFIX_SANDBOX_FORCE_WEAK or force_weak asked for it
    drop_root: bool = False  # run as root: no user namespace, the worker switches to nobody


def force_weak_requested() -> bool:
    return os.environ.get(FORCE_WEAK_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def find_bwrap() -> str | None:
    found = shutil.which("bwrap")
    if found:
        return found
    for candidate in ("/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.lru_cache(maxsize=8)
def bwrap_features(bwrap: str) -> frozenset[str]:
    """Options this bwrap knows (older releases lack --size, --perms, --disable-userns)."""
    try:
        text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10,
                              check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    wanted = ("--size", "--perms", "--disable-userns", "--die-with-parent", "--cap-drop")
    return frozenset(option for option in wanted if option in text)


def _home() -> str | None:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return os.path.realpath(home) if home and home != "~" else None


def python_roots() -> list[str]:
    """verifix's own interpreter's prefixes and the venv, outermost first, without duplicates."""
    paths: set[str] = set()
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        if prefix:
            paths.add(os.path.abspath(prefix))
            paths.add(os.path.realpath(prefix))
    executable = os.path.abspath(sys.executable)
    if not any(executable.startswith(p + os.sep) for p in paths):
        paths.add(os.path.dirname(executable))
    real = os.path.realpath(sys.executable)
    if not any(real.startswith(p + os.sep) for p in paths):
        paths.add(os.path.dirname(real))
    return mount_roots(paths)


def mount_roots(paths: Iterable[str]) -> list[str]:
    """Directories to bind read-only, outermost first: none under /usr (bound whole), none
    inside another, and never one that holds $HOME."""
    home = _home()
    roots: list[str] = []
    for path in sorted(set(paths), key=len):
        if path == "/" or any(path == r or path.startswith(r + os.sep) for r in roots):
            continue
        if home and (home == path or home.startswith(path + os.sep)):
            raise SandboxUnavailable(
                f"the interpreter prefix {path} contains $HOME, which must not be visible in "
                "the sandbox; use a venv or an interpreter installed elsewhere")
        if os.path.isdir(path) and not _under_usr(path):
            roots.append(path)
    return roots


_NEVER_PLACED = ("/usr", "/proc", "/dev", "/sys", "/etc", "/bin", "/sbin", "/lib", "/lib64")


def can_place_project(root: str) -> bool:
    """Whether the project's copy may sit at the project's own path inside the boundary (so
    editable installs and absolute paths in its configuration find it)."""
    root = os.path.abspath(root)
    return (root not in ("/", "/tmp", INSIDE_SCRATCH)
            and not any(root == p or root.startswith(p + os.sep) for p in _NEVER_PLACED))


def _under_usr(path: str) -> bool:
    return path == "/usr" or path.startswith("/usr/")


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def bwrap_argv(bwrap: str, *, as_root: bool, scratch_mb: int, tmp_mb: int,
               worker: Path = WORKER_FILE, roots: list[str] | None = None,
               project_at: str | None = None) -> list[str]:
    """The bwrap command line up to (not including) the program to run inside.

    `roots`: the interpreter's directories (default: verifix's own); `project_at`: an empty
    tmpfs at the project's own path, for the worker to write the project's copy into."""
    features = bwrap_features(bwrap)
    argv = [bwrap]
    if as_root:
        # Root keeps every capability in bwrap by default. Without a user namespace the worker
        # can switch to `nobody`, so RLIMIT_NPROC counts (it never applies to uid 0).
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup-try", "--cap-drop", "ALL",
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-all", "--unshare-user", "--cap-drop", "ALL"]
        if "--disable-userns" in features:
            argv.append("--disable-userns")  # no nested user namespaces: less kernel surface
    argv += ["--die-with-parent", "--new-session", "--clearenv"]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": INSIDE_SCRATCH,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }
    for key, value in env.items():
        argv += ["--setenv", key, value]

    # The tmpfs mounts first: a venv under /tmp is bound on top of the fresh /tmp, not hidden.
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for path, size_mb in ((INSIDE_SCRATCH, scratch_mb), ("/tmp", tmp_mb)):
        if "--perms" in features:
            argv += ["--perms", "1777"]
        if "--size" in features:
            argv += ["--size", str(size_mb << 20)]
        argv += ["--tmpfs", path]

    made: set[str] = {"/tmp", INSIDE_SCRATCH}  # tmpfs mounts: never chmod them to 0755

    def mkdirs(path: str) -> list[str]:
        # Parents made explicitly world-readable: the worker may run as nobody.
        out: list[str] = []
        for parent in _parents(path):
            if parent not in made and not _under_usr(parent):
                made.add(parent)
                out += (["--perms", "0755"] if "--perms" in features else []) + ["--dir", parent]
        return out

    if project_at is not None:
        made.add(project_at)
        argv += mkdirs(project_at)
        if "--perms" in features:
            argv += ["--perms", "1777"]
        if "--size" in features:
            argv += ["--size", str(scratch_mb << 20)]
        argv += ["--tmpfs", project_at]

    argv += ["--ro-bind", "/usr", "/usr"]
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            argv += ["--ro-bind", link, link]
    if os.path.isfile("/etc/ld.so.cache"):
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]

    # After the project's tmpfs: a venv inside the project is bound on top of it.
    for root in python_roots() if roots is None else roots:
        argv += mkdirs(root) + ["--ro-bind", root, root]
    argv += mkdirs(INSIDE_WORKER) + ["--ro-bind", str(worker), INSIDE_WORKER]
    argv += ["--chdir", INSIDE_SCRATCH, "--remount-ro", "/"]
    return argv


def worker_args(*, strong: bool, as_root: bool, nproc_base: int,
                project_at: str | None = None) -> list[str]:
    args = ["--nproc-base", str(nproc_base)]
    if project_at is not None:
        args += ["--project-at", project_at]
    if strong:
        args += ["--scratch", INSIDE_SCRATCH, "--pidns", "--wipe-tmp"]
        if as_root:
            args += ["--drop-to", f"{NOBODY}:{NOBODY}"]
    else:
        args.append("--parent-death")
    return args


def python_argv(executable: str | None = None) -> list[str]:
    # -s: no user site (it lives under $HOME); -B: no .pyc writes.
    return [executable or sys.executable, "-s", "-B"]


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def remedy_for(stderr: str) -> str:
    """One line that says how to make bubblewrap work here."""
    if _sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return ("Ubuntu 24.04+ blocks unprivileged user namespaces "
                "(kernel.apparmor_restrict_unprivileged_userns=1): add an AppArmor profile for "
                "bwrap (/etc/apparmor.d/bwrap with `userns,`, then `sudo systemctl reload "
                "apparmor`) or `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`")
    if _sysctl("kernel.unprivileged_userns_clone") == "0":
        return "enable user namespaces: sudo sysctl kernel.unprivileged_userns_clone=1"
    if _sysctl("user.max_user_namespaces") == "0":
        return "enable user namespaces: sudo sysctl user.max_user_namespaces=15000"
    return ("check that bubblewrap can create user namespaces here: "
            "`bwrap --unshare-all --ro-bind / / true` must succeed")


def probe(bwrap: str, as_root: bool) -> tuple[bool, str]:
    """Run a trivial Python program inside the real boundary."""
    try:
        argv = bwrap_argv(bwrap, as_root=as_root, scratch_mb=8, tmp_mb=8)
    except SandboxUnavailable as exc:
        return False, str(exc)
    argv += [*python_argv(), "-c", "import sys; sys.exit(0)"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    return done.returncode == 0, done.stderr


@functools.lru_cache(maxsize=4)
def _detect(force_weak: bool, as_root: bool) -> Isolation:
    if os.name != "posix" or not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return Isolation("none", f"no sandbox support on {sys.platform}",
                         "run verifix on Linux (or in WSL2) with bubblewrap installed")
    if force_weak:
        return Isolation("weak", f"weak isolation forced ({FORCE_WEAK_ENV}=1)", "", None, True)
    bwrap = find_bwrap()
    if bwrap is None:
        return Isolation("weak", "bubblewrap (bwrap) is not installed", _INSTALL_HINT)
    ok, stderr = probe(bwrap, as_root)
    if ok:
        return Isolation("strong", f"bubblewrap works ({bwrap})", "", bwrap, drop_root=as_root)
    if as_root:
        # Root without CAP_SYS_ADMIN (a container): a user namespace may still work.
        ok, _ = probe(bwrap, False)
        if ok:
            return Isolation("strong", f"bubblewrap works in a user namespace ({bwrap}); "
                             "RLIMIT_NPROC does not bind uid 0", "", bwrap)
    return Isolation("weak", f"bubblewrap failed: {stderr.strip()[:200]}", remedy_for(stderr),
                     bwrap)


def detect_isolation(force_weak: bool | None = None, refresh: bool = False) -> Isolation:
    """Which isolation a Sandbox would get here (cached; `refresh` probes again)."""
    if refresh:
        _detect.cache_clear()
    forced = force_weak_requested() if force_weak is None else force_weak
    return _detect(forced, os.geteuid() == 0)

"""On save: run the related project tests in the sandbox (debounced; a newer save cancels the
older run), publish failing tests as diagnostics, repair them in the background (their verified
fixes go to the fix store; a save that changes the code they were made from drops them and
restarts the repair), and watch the project for changes made outside the editor (git checkout,
another editor)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from verifix import code as pycode
from verifix.cancel import CancelToken
from verifix.lsp import positions
from verifix.lsp import protocol as P
from verifix.lsp.commands import JobCommands
from verifix.lsp.context import Context
from verifix.lsp.fixes import Fixes
from verifix.lsp.status import Status
from verifix.project_python import project_interpreter
from verifix.sandbox import TestReport, TestResult

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.3  # a burst of saves (save-all, formatters) is one test run
FAILING = ("failed", "error", "timeout")
Key = tuple[Path, str]  # (project root, pytest node id): node ids repeat across projects


class OnSave:
    def __init__(self, ctx: Context, status: Status, jobs: JobCommands, fixes: Fixes) -> None:
        self.ctx = ctx
        self.status = status
        self.jobs = jobs
        self.fixes = fixes
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verifix-tests")
        self._pending: set[Path] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._current: CancelToken | None = None
        self._published: dict[str, list[types.Diagnostic]] = {}
        self._failing: dict[Key, tuple[Path, str]] = {}  # -> (test file, qualname)
        self._repairing: set[Key] = set()  # tests with a background repair under way
        self._restart: set[Key] = set()  # repairs cancelled as stale: run again if still failing
        self._warned = ""  # the last "cannot run the tests" message: said once, not per save
        self._stop: asyncio.Event | None = None
        self._watch_task: asyncio.Future | None = None

    def register(self) -> None:
        self.ctx.feature(types.TEXT_DOCUMENT_DID_SAVE, self.did_save)

    # -- triggers ------------------------------------------------------------------------
    def did_save(self, params: types.DidSaveTextDocumentParams) -> None:
        self.saved(params.text_document.uri)

    def saved(self, uri: str) -> None:
        path = to_fs_path(uri)
        if path is None or not path.endswith(".py") or not self.ctx.settings.onSave:
            return
        self._pending.add(Path(path))
        if self._current is not None:
            self._current.cancel()  # a newer save makes the running tests stale
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(DEBOUNCE_S, self._fire)

    def _fire(self) -> None:
        self._timer = None
        paths, self._pending = self._pending, set()
        if not paths:
            return
        self._drop_stale()
        by_root: dict[Path, set[Path]] = {}
        for path in paths:
            by_root.setdefault(self.ctx.project_root(path), set()).add(path)
        asyncio.ensure_future(self._run_all(by_root))

    def _drop_stale(self) -> None:
        """Fixes and running repairs made from code that has changed since go; the tests run
        next decide whether a repair starts again."""
        if self.fixes.drop_stale(self.ctx.current_text):
            self.status.notify()
        for test_uri, qualname in self.jobs.cancel_stale():
            test_path = to_fs_path(test_uri)
            self._restart |= {key for key, (path, q) in self._failing.items()
                              if q == qualname and str(path) == test_path}

    async def _run_all(self, by_root: dict[Path, set[Path]]) -> None:
        for root, paths in by_root.items():
            await self._run(root, paths)

    # -- one run -------------------------------------------------------------------------
    def _related(self, root: Path, paths: set[Path]) -> dict[str, tuple[Path, str]]:
        """Node id -> (test file, test qualname) for the tests related to the saved files."""
        out: dict[str, tuple[Path, str]] = {}
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
                path.resolve().relative_to(root.resolve())
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            functions = pycode.list_functions(text)
            if pycode.is_test_file(path):
                for fn in functions:
                    if fn.is_test:
                        out[pycode.node_id(root, path, fn.qualname)] = (path, fn.qualname)
                continue
            for fn in functions:
                if fn.is_test:
                    continue
                for ref in pycode.find_tests(root, fn.name, path):
                    out[ref.node_id] = (Path(ref.path), ref.qualname)
        # Tests shown as failing are run again, so fixed ones lose their diagnostic.
        out.update({nid: where for (r, nid), where in self._failing.items() if r == root})
        return out

    def _test(self, root: Path, paths: set[Path], cancel: CancelToken,
              ) -> tuple[dict[str, tuple[Path, str]], TestReport | None]:
        related = self._related(root, paths)
        if not related or cancel.cancelled:
            return related, None
        python = project_interpreter(self.ctx.settings.python, root)
        report = self.ctx.sandbox().run_project_tests(root, {}, sorted(related), cancel=cancel,
                                                      python=python)
        return related, report

    async def _run(self, root: Path, paths: set[Path]) -> None:
        cancel = CancelToken()
        self._current = cancel
        loop = asyncio.get_running_loop()
        try:
            related, report = await loop.run_in_executor(self._pool, self._test, root, paths,
                                                         cancel)
        except Exception as exc:  # e.g. no sandbox: say it once, keep serving
            message = f"could not run the tests on save: {exc}"
            log.warning(message)
            if message != self._warned:
                self._warned = message
                self.ctx.show(message, types.MessageType.Warning)
            return
        finally:
            if self._current is cancel:
                self._current = None
        if report is None or cancel.cancelled:
            return
        self._warned = ""
        results = {r.node_id: r for r in report.results}
        fixes_dropped = False
        touched_files = {str(p) for p, _q in related.values()}
        for (r_root, nid), (path, _q) in list(self._failing.items()):
            if r_root == root and str(path) in touched_files and nid not in results:
                self._failing.pop((r_root, nid))
        for nid, (path, qualname) in related.items():
            r = results.get(nid)
            if r is None or r.status == "cancelled":
                continue
            if r.status in FAILING:
                self._failing[(root, nid)] = (path, qualname)
            else:
                self._failing.pop((root, nid), None)
                self._restart.discard((root, nid))
                uri = from_fs_path(str(path)) or ""
                fixes_dropped |= self.fixes.forget_test(uri, qualname)
        self._publish(root, touched_files, results)
        if fixes_dropped:
            self.status.notify()  # a fix whose test passes now is gone
        for key in [k for k in self._failing if k[0] == root][:2]:
            self._start_repair(key)

    def _start_repair(self, key: Key) -> None:
        """A background repair of this failing test, unless one runs or its fix is there."""
        if key in self._repairing or key not in self._failing:
            return
        path, qualname = self._failing[key]
        uri = from_fs_path(str(path)) or ""
        if self.fixes.for_test(uri, qualname) is not None:
            return
        self._repairing.add(key)  # now, not when the coroutine starts: no second one meanwhile
        asyncio.ensure_future(self._repair(key, uri, qualname))

    async def _repair(self, key: Key, uri: str, qualname: str) -> None:
        try:
            await self.jobs.run("repair", uri, qualname, background=True)
        finally:
            self._repairing.discard(key)
        if key in self._restart:  # cancelled because the code changed: the new code's turn
            self._restart.discard(key)
            self._start_repair(key)

    def _publish(self, root: Path, files: set[str], results: dict[str, TestResult]) -> None:
        by_file: dict[str, list[types.Diagnostic]] = {f: [] for f in files}
        for (r_root, nid), (path, qualname) in self._failing.items():
            if r_root != root or str(path) not in by_file:
                continue
            r = results.get(nid)
            message = _failure_line(r.message if r is not None else "")
            diag = self._diagnostic(path, qualname, nid, r.status if r else "failed", message)
            if diag is not None:
                by_file[str(path)].append(diag)
        for file, diags in by_file.items():
            uri = from_fs_path(file) or ""
            if not diags and not self._published.get(uri):
                continue
            self._published[uri] = diags
            self.ctx.server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diags))

    def _diagnostic(self, path: Path, qualname: str, nid: str, status: str,
                    message: str) -> types.Diagnostic | None:
        uri = from_fs_path(str(path)) or ""
        doc = self.ctx.server.workspace.get_text_document(uri)
        try:
            source = doc.source
        except OSError:
            return None
        fn = pycode.find_function(source, qualname)
        if fn is None:
            return None
        line_end = source.encode("utf-8").find(b"\n", fn.def_start_byte)
        end = line_end if line_end != -1 else len(source.encode("utf-8"))
        return types.Diagnostic(
            range=positions.range_to_client(doc, source, fn.def_start_byte, end),
            message=f"{qualname} {status}: {message}" if message else f"{qualname} {status}",
            severity=types.DiagnosticSeverity.Error, source=P.DIAGNOSTIC_SOURCE,
            code=P.DIAGNOSTIC_CODE_TEST_FAILED,
            data={P.DIAGNOSTIC_DATA_NODE_ID: nid, P.DIAGNOSTIC_DATA_TEST: qualname})

    # -- outside changes ---------------------------------------------------------------
    def start_watching(self) -> None:
        root = self.ctx.store.root
        if root is None or not root.is_dir():
            return
        self._stop = asyncio.Event()
        self._watch_task = asyncio.ensure_future(self._watch(root, self._stop))

    async def _watch(self, root: Path, stop: asyncio.Event) -> None:
        from watchfiles import PythonFilter, awatch

        try:
            # The default 1.6 s debounce is too slow next to on-save runs.
            async for changes in awatch(root, stop_event=stop, debounce=150, step=50,
                                        watch_filter=PythonFilter()):
                for _change, name in changes:
                    self._outside(Path(name))
        except Exception as exc:  # e.g. too many inotify watches: on-save still works
            log.warning("not watching %s: %s", root, exc)

    def _outside(self, path: Path) -> None:
        uri = from_fs_path(str(path)) or ""
        doc = self.ctx.server.workspace.text_documents.get(uri)
        if doc is not None:
            try:
                if path.read_text(encoding="utf-8") == doc.source:
                    return  # the editor's own save: didSave covers it
            except (OSError, UnicodeDecodeError):
                return
        self.saved(uri)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._current is not None:
            self._current.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _failure_line(message: str) -> str:
    """What went wrong, from pytest's failure text: its first "E" lines, else the last line."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    marked = [" ".join(ln[1:].split()) for ln in lines if ln.startswith("E ")]
    if marked:
        return "; ".join(marked[:2])[:300]
    return lines[-1][:300] if lines else ""

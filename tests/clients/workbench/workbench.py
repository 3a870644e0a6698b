"""A real VS Code workbench (code-server) on a project folder, seen through a Chromium page:
what a user does (open a file, run a palette command, move the cursor) and what a user sees
(status bar, notifications, the Output channel, the file on disk).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import Browser, BrowserContext, Page

from . import processes
from .codeserver import CodeServer
from .install import Paths

T = TypeVar("T")
LOAD_TIMEOUT_S = 90.0  # the first page load compiles a lot of JavaScript on 2 busy cores
VERIFIX_STATUS_ID = "verifix.verifix.verifix.status"  # publisher.name + the item's own id

# Polls what the workbench shows every 100 ms into window.__seen, so that a toast or a status
# bar message that comes and goes between two looks of the test is still seen.
RECORDER = """
(() => {
  if (window.__seen) return;
  const seen = window.__seen = {notifications: [], status: []};
  const last = {};
  setInterval(() => {
    for (const e of document.querySelectorAll('.notification-list-item-message')) {
      const text = e.textContent.trim();
      if (text && !seen.notifications.includes(text)) seen.notifications.push(text);
    }
    for (const e of document.querySelectorAll('.statusbar-item')) {
      const text = window.__statusText(e);
      if (text && last[e.id] !== text) seen.status.push(last[e.id] = text);
    }
  }, 100);
})();
"""
# A status bar item's text as the extension wrote it: icons back to $(name) (or $(name~spin)).
STATUS_TEXT = """
window.__statusText = (item) => {
  const label = item.querySelector('.statusbar-item-label');
  if (!label) return '';
  let out = '';
  for (const node of label.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) { out += node.textContent; continue; }
    const icon = [...(node.classList || [])].find(
      (c) => c.startsWith('codicon-') && !c.startsWith('codicon-modifier-'));
    if (icon) {
      const spin = node.classList.contains('codicon-modifier-spin') ? '~spin' : '';
      out += `$(${icon.slice('codicon-'.length)}${spin})`;
    } else {
      out += node.textContent;
    }
  }
  return `${item.id}\\t${out.replace(/\\s+/g, ' ').trim()}`;
};
"""


def wait_until(check: Callable[[], T | None], timeout: float, what: str | Callable[[], str],
               interval: float = 0.2) -> T:
    """check()'s first truthy value; AssertionError naming `what` after `timeout` seconds
    (a callable `what` is asked at that moment, to tell the state things ended in)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {said}")
        time.sleep(interval)


class Workbench:
    """code-server with the extension installed, on `folder`, and one Chromium page on it.

    Artifacts (numbered screenshots, the final screenshot, the verifix Output channel and
    code-server's log) go to `artifacts`.
    """

    def __init__(self, paths: Paths, browser: Browser, workdir: Path, extensions_dir: Path,
                 folder: Path, artifacts: Path, settings: dict[str, Any],
                 env: dict[str, str]) -> None:
        self.folder = folder
        self.artifacts = artifacts
        shutil.rmtree(artifacts, ignore_errors=True)
        artifacts.mkdir(parents=True)
        self._shots = 0
        self.server = CodeServer(paths, workdir, extensions_dir, folder, settings, env)
        self.context: BrowserContext = browser.new_context(viewport={"width": 1400,
                                                                     "height": 900})
        self.context.add_init_script(STATUS_TEXT + RECORDER)
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        try:
            self.server.start()
            self.page.goto(self.server.url)
            # The Explorer lists the folder once the workbench and its file system are up.
            self.page.locator(".explorer-folders-view .monaco-list-row").first.wait_for(
                timeout=LOAD_TIMEOUT_S * 1000)
        except BaseException:
            self.close()  # nothing of a half-started workbench may outlive the test
            raise

    # -- what a user does ------------------------------------------------------------------
    def open_file(self, relpath: str) -> None:
        """Clicks the file in the Explorer (Quick Open does not open files in headless
        Chromium), expanding its folders first."""
        *folders, name = relpath.split("/")
        row = '.explorer-folders-view .monaco-list-row[aria-label="{}"]'.format
        for folder in folders:
            if self.page.locator(row(folder)).get_attribute("aria-expanded") != "true":
                self.page.locator(row(folder)).click()
        self.page.locator(row(name)).click()
        self.page.locator(f'.tabs-container .tab.active[aria-label^="{name}"]').wait_for()
        self.page.locator(".editor-instance .monaco-editor .view-lines").first.wait_for()

    def palette(self, title: str) -> None:
        """F1, `>title`, Enter: runs the command whose label is exactly `title`."""
        box = self._quick_input("F1")
        box.fill(f">{title}")
        first = self.page.locator(".quick-input-list .monaco-list-row").first
        wait_until(lambda: first.get_attribute("aria-label") == title, 10,
                   lambda: f"{title!r} first in the command palette: {self.palette_list()}")
        self.page.keyboard.press("Enter")
        box.wait_for(state="hidden")

    def palette_titles(self, query: str, screenshot: str = "") -> list[str]:
        """The command palette's entries for `query` (it is closed again afterwards; a
        screenshot of it first if `screenshot` names one)."""
        box = self._quick_input("F1")
        box.fill(f">{query}")
        titles = self._settled(self.palette_list)
        if screenshot:
            self.screenshot(screenshot)
        self.page.keyboard.press("Escape")
        box.wait_for(state="hidden")
        return titles

    def palette_list(self) -> list[str]:
        rows = self.page.locator(".quick-input-list .monaco-list-row")
        return [r.get_attribute("aria-label") or "" for r in rows.all()]

    def go_to(self, line: int, column: int = 1) -> None:
        """Go to Line/Column (Ctrl+G `:line:col`), checked against the status bar's Ln/Col."""
        box = self._quick_input("Control+g")
        box.fill(f":{line}:{column}")
        self.page.keyboard.press("Enter")
        box.wait_for(state="hidden")
        where = self.page.locator("#status\\.editor\\.selection")
        wait_until(lambda: where.inner_text().startswith(f"Ln {line}, Col {column}"), 10,
                   lambda: f"the cursor at {line}:{column} (status bar: {where.inner_text()!r})")

    def save(self) -> None:
        self.page.keyboard.press("Control+s")

    def type_over(self, line: int, column: int, old: str, new: str) -> None:
        """Selects `old` at line:column (Shift+Right) and types `new` over it."""
        self.go_to(line, column)
        for _ in old:
            self.page.keyboard.press("Shift+ArrowRight")
        self.page.keyboard.type(new)

    def context_menu(self, *path: str, screenshot: str = "") -> None:
        """Right-clicks at the cursor and picks `path` in the editor's context menu, opening
        submenus by hovering as a mouse does (a screenshot of the open menu first if
        `screenshot` names one). The click lands on the cursor, so the cursor stays put."""
        cursor = self.page.locator(".editor-group-container.active .monaco-editor .cursor").first
        box = cursor.bounding_box()
        assert box is not None, "no cursor in the active editor"
        self.page.mouse.click(box["x"] + 1, box["y"] + box["height"] / 2, button="right")
        *submenus, item = path
        for label in submenus:
            self.page.get_by_role("menuitem", name=label, exact=True).hover()
        target = self.page.get_by_role("menuitem", name=item, exact=True)
        target.wait_for()
        if screenshot:
            self.screenshot(screenshot)
        target.click()

    def quick_fix(self, title: str, screenshot: str = "") -> list[str]:
        """Ctrl+. (Quick Fix) at the cursor, then clicks the first action whose title starts
        with `title` (a screenshot of the menu first if `screenshot` names one). Returns the
        titles it listed."""
        self.page.keyboard.press("Control+.")
        rows = self.page.locator(".action-widget .monaco-list-row.action")

        def titles() -> list[str]:
            return [t.strip() for t in rows.locator(".title").all_inner_texts()]
        listed = wait_until(lambda: [t for t in self._settled(titles) if t], 15,
                            "the Quick Fix menu")
        pick = next((i for i, t in enumerate(listed) if t.startswith(title)), None)
        assert pick is not None, f"no action {title!r} in the Quick Fix menu: {listed}"
        if screenshot:
            self.screenshot(screenshot)
        rows.nth(pick).click()
        rows.first.wait_for(state="hidden")
        return listed

    def cancel_notification(self, pattern: str) -> None:
        """Clicks Cancel on the notification toast whose text matches `pattern`."""
        toast = self.page.locator(".notification-toast", has_text=re.compile(pattern))
        toast.get_by_role("button", name="Cancel", exact=True).click()

    def open_problem(self, pattern: str, name: str) -> None:
        """Clicks the Problems panel's row matching `pattern`: VS Code opens its file, `name`,
        at the problem. Waited for: a Go to Line started while it opened once hung (1 run in 5)."""
        rows = self.page.locator(".markers-panel .monaco-list-row")
        rows.filter(has_text=re.compile(pattern)).first.click()
        self.page.locator(f'.tabs-container .tab.active[aria-label^="{name}"]').wait_for()
        self.page.locator(".editor-instance .monaco-editor .view-lines").first.wait_for()

    def _quick_input(self, key: str):
        self.page.keyboard.press(key)
        box = self.page.locator(".quick-input-widget .quick-input-box input")
        box.wait_for(state="visible")
        return box

    @staticmethod
    def _settled(read: Callable[[], T], quiet: float = 0.5, timeout: float = 10) -> T:
        """read()'s value once it has not changed for `quiet` seconds (lists fill in steps)."""
        last, since = read(), time.monotonic()
        deadline = since + timeout
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            time.sleep(0.1)
            now = read()
            if now != last:
                last, since = now, time.monotonic()
        return last

    # -- what a user sees ------------------------------------------------------------------
    def status_bar(self) -> dict[str, str]:
        """Status bar items now, by element id, with icons as $(name)."""
        texts = self.page.evaluate(
            "() => [...document.querySelectorAll('.statusbar-item')].map(window.__statusText)")
        return dict(t.split("\t", 1) for t in texts if t)

    def verifix_status(self) -> str:
        return self.status_bar().get(VERIFIX_STATUS_ID, "")

    def verifix_status_label(self) -> str:
        """The verifix item's accessible label: its text and its tooltip."""
        return self.page.locator(f'[id="{VERIFIX_STATUS_ID}"]').get_attribute("aria-label") or ""

    def verifix_status_history(self) -> list[str]:
        """Every text of verifix's status bar item so far, in order."""
        prefix = f"{VERIFIX_STATUS_ID}\t"
        return [t[len(prefix):] for t in self.status_history() if t.startswith(prefix)]

    def wait_ready(self, timeout: float = 90) -> str:
        """Waits for verifix's status bar item to say the server is ready ($(check)); fails at
        once, with its tooltip and log, if it says $(error)."""
        def check() -> str | None:
            text = self.verifix_status()
            if text.startswith("$(error)"):
                raise AssertionError(f"verifix shows {text!r}: {self.verifix_status_label()}\n"
                                     f"--- verifix Output ---\n{self.output_channel()}")
            return text if text.startswith("$(check) verifix") else None
        return wait_until(check, timeout, lambda: f"verifix ready (it shows "
                                                  f"{self.verifix_status()!r})")

    def wait_status(self, pattern: str, timeout: float = 60, item: str = VERIFIX_STATUS_ID,
                    ) -> str:
        """The text of status bar item `item` (any item for "") once it matches `pattern`."""
        def check() -> str | None:
            for key, text in self.status_bar().items():
                if (not item or key == item) and re.search(pattern, text):
                    return text
            return None
        return wait_until(check, timeout, lambda: f"status bar {item or 'item'} ~ {pattern!r} "
                                                  f"(now: {self.status_bar()})")

    def status_history(self) -> list[str]:
        """Every status bar text seen so far, as "id<TAB>text"."""
        return list(self.page.evaluate("() => window.__seen.status"))

    def notifications(self) -> list[str]:
        """Every notification message seen so far (toasts and the notification center)."""
        return list(self.page.evaluate("() => window.__seen.notifications"))

    def wait_notification(self, pattern: str, timeout: float = 60) -> str:
        return wait_until(
            lambda: next((n for n in self.notifications() if re.search(pattern, n)), None),
            timeout, lambda: f"a notification ~ {pattern!r} (seen: {self.notifications()})")

    def toasts(self) -> list[str]:
        """The notification toasts shown now (not the ones gone by)."""
        return [t.strip() for t in self.page.locator(
            ".notification-toast .notification-list-item-message").all_inner_texts()]

    def problems(self) -> list[str]:
        """Opens the Problems panel (palette) and returns its rows' accessible labels, e.g.
        "Error: test_add failed: ... at line 4 and character 1. generated by verifix"."""
        self.palette("View: Focus Problems (Errors, Warnings, Infos)")
        rows = self.page.locator(".markers-panel .monaco-list-row")
        rows.first.wait_for()
        return self._settled(lambda: [r.get_attribute("aria-label") or "" for r in rows.all()])

    def tabs(self) -> dict[str, bool]:
        """The editor tabs by file name, True for those with unsaved changes."""
        found = self.page.locator(".tabs-container .tab").evaluate_all(
            "ts => ts.map(t => [t.getAttribute('aria-label') || '',"
            "                   t.classList.contains('dirty')])")
        return {label.split(",")[0]: dirty for label, dirty in found}

    def lightbulb_shown(self) -> bool:
        """The lightbulb in the active editor (code actions at the cursor)."""
        return self.page.locator(".editor-group-container.active .lightBulbWidget"
                                 ).first.is_visible()

    def output_channel(self, name: str = "verifix") -> str:
        """The Output channel's text, from the log file VS Code writes for it (the panel's
        editor only has its visible lines in the page)."""
        pattern = f"logs/*/exthost*/output_logging_*/*-{name}.log"
        logs = sorted(self.server.user_data.glob(pattern))
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)

    def wait_output(self, pattern: str, name: str = "verifix", timeout: float = 30) -> str:
        return wait_until(lambda: re.search(pattern, self.output_channel(name)) and
                          self.output_channel(name), timeout,
                          lambda: f"Output channel {name!r} ~ {pattern!r}:\n"
                                  f"{self.output_channel(name)}")

    def wait_output_panel(self, name: str) -> None:
        """The Output panel is shown, on channel `name`."""
        picker = self.page.get_by_label("Switch Output").first
        picker.wait_for()
        shown = lambda: picker.evaluate("s => s.options[s.selectedIndex]?.text || ''")  # noqa: E731
        wait_until(lambda: shown() == name, 10, lambda: f"Output channel {name!r} shown, "
                                                        f"not {shown()!r}")

    def editor_text(self) -> str:
        """The active editor's text as shown (fine for files that fit on the screen)."""
        lines = self.page.locator(".editor-group-container.active .monaco-editor .view-line")
        rows = lines.evaluate_all(
            "ls => ls.map(l => [parseFloat(l.style.top) || 0, l.textContent])")
        return "\n".join(text.replace("\u00a0", " ") for _, text in sorted(rows))

    def refactor_preview_open(self) -> bool:
        return self.page.locator(".bulk-edit-panel").first.is_visible()

    def read(self, relpath: str) -> str:
        """The file as it is on disk (not in the editor)."""
        return (self.folder / relpath).read_text(encoding="utf-8")

    def screenshot(self, name: str) -> Path:
        self._shots += 1
        path = self.artifacts / f"{self._shots:02d}-{name}.png"
        self.page.screenshot(path=path)
        return path

    def language_servers(self) -> list[processes.Proc]:
        return self.server.language_servers()

    # -- the end ----------------------------------------------------------------------------
    def close(self) -> list[processes.Proc]:
        """Keeps the last picture and the logs, closes the page, ends code-server's process
        group; returns the language servers that outlived it (they are killed, too)."""
        try:
            self.page.screenshot(path=self.artifacts / "final.png")
            (self.artifacts / "verifix-output.log").write_text(self.output_channel(),
                                                              encoding="utf-8")
            seen = self.notifications() + ["", *self.status_history()]
            (self.artifacts / "seen.txt").write_text("\n".join(seen) + "\n", encoding="utf-8")
        except Exception:  # noqa: BLE001 - a broken page must not hide the test's own failure
            pass
        finally:
            try:
                self.context.close()
            finally:
                left = self.server.stop()
                if self.server.log_path.exists():
                    shutil.copy(self.server.log_path, self.artifacts / "code-server.log")
        return left

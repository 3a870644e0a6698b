"""The verified fixes that background repairs found, at most one per failing test: added when a
repair verifies (commands.py), gone once applied, once the test passes or once the code they
were verified against changes (onsave.py); code actions offer them as "Apply verified fix" and
the status lists them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from verifix.pipeline.result import Result
from verifix.pipeline.task import Task


@attrs.define
class Fix:
    id: str
    test_uri: str
    test_qualname: str
    result: Result
    task: Task


class Fixes:
    def __init__(self) -> None:
        self._by_id: dict[str, Fix] = {}

    def __iter__(self) -> Iterator[Fix]:
        return iter(list(self._by_id.values()))

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def get(self, fix_id: str) -> Fix | None:
        return self._by_id.get(fix_id)

    def add(self, test_uri: str, test_qualname: str, result: Result, task: Task) -> Fix:
        """A new fix for this test replaces the one it had."""
        self.forget_test(test_uri, test_qualname)
        fix = Fix(uuid.uuid4().hex[:8], test_uri, test_qualname, result, task)
        self._by_id[fix.id] = fix
        return fix

    def discard(self, fix_id: str) -> None:
        self._by_id.pop(fix_id, None)

    def for_test(self, test_uri: str, test_qualname: str) -> Fix | None:
        return next((f for f in self._by_id.values()
                     if (f.test_uri, f.test_qualname) == (test_uri, test_qualname)), None)

    def forget_test(self, test_uri: str, test_qualname: str) -> bool:
        """Drop the fix for this test (it passes now, or a newer fix replaces it); True if any."""
        fix = self.for_test(test_uri, test_qualname)
        if fix is not None:
            del self._by_id[fix.id]
        return fix is not None

    def drop_stale(self, read: Callable[[Path], str | None]) -> bool:
        """Drop the fixes verified against code that has changed since; True if any."""
        stale = [f.id for f in self._by_id.values() if f.task.changed_since(read)]
        for fix_id in stale:
            del self._by_id[fix_id]
        return bool(stale)

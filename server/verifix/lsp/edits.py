"""A Result as a safe workspace edit: only the function (plus imports/helpers it needs), versioned,
annotated with its evidence, and refused when the user changed the function meanwhile."""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass

from lsprotocol import types
from pygls.workspace import TextDocument

from verifix import code as pycode
from verifix.lsp import positions
from verifix.lsp.protocol import ANNOTATION_ID
from verifix.pipeline.result import Result


class EditRefused(Exception):
    """The edit cannot be applied safely; the message says why, in one line."""


@dataclass
class Planned:
    edit: types.WorkspaceEdit
    label: str
    confirm: bool


def annotation_label(result: Result) -> str:
    e = result.evidence
    if result.status == "verified":
        return f"verifix: verified by {e.trusted_passed}/{e.trusted_total} checks"
    return f"verifix: {result.status} ({e.trusted_passed}/{e.trusted_total} checks pass)"


def evidence_text(result: Result) -> str:
    e = result.evidence
    return (f"{result.status}: {result.message}. Trusted checks {e.trusted_passed}/"
            f"{e.trusted_total}; agreement {e.agreeing}/{e.considered} on {e.inputs} generated "
            f"inputs; {e.candidates} candidates, {e.repairs} repairs; {result.seconds:.1f} s")


def _lines(text: str) -> list[str]:
    # "\n" only, like positions.py: str.splitlines also splits on U+2028 and the like.
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _minimal(data: bytes, start: int, end: int, new: str,
             limit: int | None = None) -> list[tuple[int, int, str]]:
    """The edit (start, end, new) of `data` as edits of only the lines that change, so a
    preview and the undo history read as a diff, not the function deleted and re-inserted.
    `limit`: where the next edit starts (the line break at `end` is taken only before it)."""
    if data[end:end + 1] == b"\n" and (limit is None or end + 1 < limit):
        # Whole lines: a line appended to the function is then one insertion.
        end, new = end + 1, new + "\n"
    old, ours = _lines(data[start:end].decode("utf-8")), _lines(new)
    at = list(itertools.accumulate((len(line.encode("utf-8")) for line in old), initial=start))
    return [(at[i1], at[i2], "".join(ours[j1:j2]))
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
                None, old, ours, autojunk=False).get_opcodes() if tag != "equal"]


def _byte_edits(source: str, fn: pycode.FunctionInfo, result: Result) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, new text) byte edits of `source`."""
    data = source.encode("utf-8")
    try:
        spliced = pycode.splice(source, fn, result.code).encode("utf-8")
    except ValueError as exc:
        raise EditRefused(str(exc)) from None
    tail = len(data) - fn.end_byte
    if spliced[:fn.start_byte] != data[:fn.start_byte] or spliced[len(spliced) - tail:] != (
            data[fn.end_byte:]):
        raise EditRefused("the new code would change more than the function")
    edits = [(fn.start_byte, fn.end_byte,
              spliced[fn.start_byte:len(spliced) - tail].decode("utf-8"))]
    if result.imports:
        with_imports = pycode.add_imports(source, result.imports).encode("utf-8")
        p = 0
        while p < min(len(data), len(with_imports)) and data[p] == with_imports[p]:
            p += 1
        s = 0
        while (s < min(len(data), len(with_imports)) - p
               and data[len(data) - 1 - s] == with_imports[len(with_imports) - 1 - s]):
            s += 1
        end = len(data) - s
        if end > fn.start_byte:
            raise EditRefused("the imports the new code needs would overlap the function")
        if (p, end) != (len(data), len(data)) or len(with_imports) != len(data):
            edits.insert(0, (p, end, with_imports[p:len(with_imports) - s].decode("utf-8")))
    if result.helpers:
        helpers = "\n\n\n" + "\n\n\n".join(h.strip() for h in result.helpers) + "\n"
        start = len(source.rstrip("\n").encode("utf-8"))
        if start <= fn.end_byte:  # the function is last: one edit, so no two edits touch
            s0, _e0, text = edits[-1]
            edits[-1] = (s0, len(data), text + helpers)
        else:
            edits.append((start, len(data), helpers))
    limits: list[int | None] = [e[0] for e in edits[1:]] + [None]
    return [small for (s0, e0, text), limit in zip(edits, limits, strict=True)
            for small in _minimal(data, s0, e0, text, limit)]


@dataclass
class Other:
    """Another function the result changes: its document as it is now, and as the job saw it."""

    doc: TextDocument
    current: str
    version: int | None
    original_fn_text: str
    qualname: str
    code: str


def _other_edit(other: Other) -> types.TextDocumentEdit:
    fn = pycode.find_function(other.current, other.qualname)
    if fn is None or fn.text != other.original_fn_text:
        raise EditRefused(f"{other.qualname} in {other.doc.path} was edited while verifix worked "
                          "on it; not applied (run it again on the new text)")
    try:
        spliced = pycode.splice(other.current, fn, other.code).encode("utf-8")
    except ValueError as exc:
        raise EditRefused(str(exc)) from None
    data = other.current.encode("utf-8")
    tail = len(data) - fn.end_byte
    new = spliced[fn.start_byte:len(spliced) - tail].decode("utf-8")
    return types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=other.doc.uri,
                                                                    version=other.version),
        edits=[types.AnnotatedTextEdit(
            range=positions.range_to_client(other.doc, other.current, start, end),
            new_text=text, annotation_id=ANNOTATION_ID)
            for start, end, text in _minimal(data, fn.start_byte, fn.end_byte, new)])


def _unchanged(current: str, fn: pycode.FunctionInfo, result: Result) -> bool:
    """The result leaves this function as it is (its fix is all in another function)."""
    try:
        return (not result.imports and not result.helpers
                and pycode.splice(current, fn, result.code) == current)
    except ValueError:
        return False


def plan_edit(doc: TextDocument, current: str, version: int | None, original_fn_text: str,
              qualname: str, result: Result, confirm: bool,
              others: list[Other] | None = None) -> Planned:
    """The workspace edit that puts `result` into `current` (the document as it is now).

    The function is found again by name (the user may have typed elsewhere); if its own text
    is no longer what the job started from, nothing is applied.
    """
    if not result.code:
        raise EditRefused("the job produced no code")
    fn = pycode.find_function(current, qualname)
    if fn is None:
        raise EditRefused(f"{qualname} no longer exists in the document; not applied")
    if fn.text != original_fn_text:
        raise EditRefused(f"{qualname} was edited while verifix worked on it; not applied "
                          "(run it again on the new text)")
    label = annotation_label(result)
    text_edits: list[types.TextEdit | types.AnnotatedTextEdit] = [
        types.AnnotatedTextEdit(range=positions.range_to_client(doc, current, start, end),
                                new_text=new, annotation_id=ANNOTATION_ID)
        for start, end, new in _byte_edits(current, fn, result)
    ]
    changes = [] if _unchanged(current, fn, result) else [types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri,
                                                                    version=version),
        edits=text_edits)]
    # Every changed function in one edit: the editor applies all of it or none.
    changes += [_other_edit(other) for other in others or []]
    edit = types.WorkspaceEdit(
        document_changes=list(changes),
        change_annotations={ANNOTATION_ID: types.ChangeAnnotation(
            label=label, needs_confirmation=confirm, description=evidence_text(result))},
    )
    return Planned(edit, label, confirm)

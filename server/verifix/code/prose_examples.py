"""Examples in a docstring's prose: `f(x) == y`, `f(x) ➞ y`, `f(x) returns y`, `For x = 1 the
output should be 3`, `Input: ... Output: ...` blocks, `x = ...` lines then `return ...`."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from verifix.code.example_values import (
    BUILTIN_NAMES,
    MAX_TEXT,
    Example,
    call_ok,
    calls_to,
    expected_node,
    parse_expr,
)

_MAX_CUTS = 80  # places a value followed by prose may end, longest first

# --- scanning helpers ----------------------------------------------------------------------------
# Hand-written: doctest.DocTestParser sees none of these forms, and tokenize and ast reject the
# prose around the code.


def _string_end(text: str, i: int) -> int:
    """Index just past the string literal that starts at text[i] (a quote), or len(text)."""
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    delim = quote * 3 if triple else quote
    j = i + len(delim)
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if text.startswith(delim, j):
            return j + len(delim)
        if c == "\n" and not triple:
            return j
        j += 1
    return len(text)


_OPEN = frozenset("([{")
_CLOSE = frozenset(")]}")


def _scan(text: str, start: int = 0, limit: int | None = None, *, floor: bool = False,
          comments: bool = False) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth after it) for each character of `text` from `start` that
    is outside string literals; with `comments`, a `#` at depth 0 skips to its line's end, and
    with `floor` a stray closing bracket leaves the depth at 0. Last comes (where the scan
    stopped, "", depth): the end of the text or of `limit`, or past a string running over it."""
    end = len(text) if limit is None else min(len(text), start + limit)
    depth = 0
    j = start
    while j < end:
        c = text[j]
        if c in "'\"":
            j = _string_end(text, j)
            continue
        if comments and c == "#" and depth == 0:
            nl = text.find("\n", j)
            j = len(text) if nl == -1 else nl
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth = max(0, depth - 1) if floor else depth - 1
        yield j, c, depth
        j += 1
    yield j, "", depth


def _match_close(text: str, open_index: int) -> int | None:
    """Index of the bracket closing text[open_index], strings skipped; None if unbalanced."""
    for j, c, depth in _scan(text, open_index, MAX_TEXT):
        if c in _CLOSE and depth <= 0:
            return j if depth == 0 else None
    return None


def _logical_line(text: str, start: int) -> str:
    """From `start` to the end of its line, continued over lines while brackets are open."""
    end = next(j for j, c, depth in _scan(text, start, MAX_TEXT, floor=True, comments=True)
               if c == "" or (c == "\n" and depth == 0))
    return text[start:end]


def _split_top(text: str) -> list[str]:
    """`text` split at the commas outside brackets and strings."""
    parts, last = [], 0
    for j, c, depth in _scan(text):
        if c == "," and depth == 0:
            parts.append(text[last:j])
            last = j + 1
    parts.append(text[last:])
    return parts


_STOP_WORDS = frozenset({"if", "else", "when", "unless", "or", "otherwise", "not", "in", "is",
                         "but", "only", "except", "for", "because", "since", "plus", "minus",
                         "times"})
_SENTENCE_PUNCT = ".,;:!?"


def _acceptable_rest(rest: str) -> bool:
    """What may follow an expected value in prose without changing its meaning."""
    if not rest:
        return True
    if rest[0] in _SENTENCE_PUNCT:
        return len(rest) == 1 or rest[1].isspace()
    if not rest[0].isspace():
        return False
    s = rest.lstrip()
    if not s or s[0] in "#(":
        return True
    if s[0] == "=":
        return not s.startswith("==")
    if s[0] in _SENTENCE_PUNCT:
        return True
    m = re.match(r"[A-Za-z_]\w*", s)
    if m:
        return m.group(0).lower() not in _STOP_WORDS
    return False


def _value_from(text: str) -> ast.expr | None:
    """The expected value at the start of `text` (prose may follow it), or None."""
    region = _logical_line(text, 0)
    full_line_end = text.find("\n")
    line_rest = text if full_line_end == -1 else text[:max(full_line_end, len(region))]
    region = region.rstrip()
    if not region.strip():
        return None
    ends = [len(region)] + [i for i in range(len(region) - 1, 0, -1)
                            if region[i].isspace() or region[i] in _SENTENCE_PUNCT][:_MAX_CUTS]
    seen: set[int] = set()
    for end in ends:
        if end in seen:
            continue
        seen.add(end)
        frag = region[:end].strip()
        if not frag or re.search(r"\d\.$", frag):  # "returns 16." ends a sentence
            continue
        node = expected_node(frag)
        if node is None:
            continue
        if _acceptable_rest(line_rest[end:]):
            return node
    return None


# --- building calls ------------------------------------------------------------------------------


def _build_call(name: str, args: list[ast.expr], keywords: list[tuple[str, ast.expr]],
                params: list[str] | None) -> str | None:
    total = len(args) + len(keywords)
    if total == 0:
        return None
    plain = [p for p in (params or []) if not p.startswith("*")]
    variadic = params is not None and any(p.startswith("*") for p in params)
    if params is not None and not variadic and total > len(plain):
        return None
    names = [k for k, _ in keywords]
    if len(set(names)) != len(names):
        return None
    kw_nodes: list[ast.keyword] = []
    pos = list(args)
    if keywords:
        if params is not None and set(names) <= set(plain):
            order = {p: i for i, p in enumerate(plain)}
            keywords = sorted(keywords, key=lambda kv: order[kv[0]])
            expected_slots = plain[len(args):len(args) + len(keywords)]
            if [k for k, _ in keywords] == expected_slots:
                pos += [v for _, v in keywords]
            else:
                kw_nodes = [ast.keyword(arg=k, value=v) for k, v in keywords]
        else:
            # descriptive names that are not the parameters ("bucket_capacity : 1" for
            # `capacity`): by position as written, only when they fill every parameter
            if params is not None and not variadic and total != len(plain):
                return None
            pos += [v for _, v in keywords]
    call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=pos, keywords=kw_nodes)
    return ast.unparse(call)


def _args_from(text: str, name: str, params: list[str] | None) -> str | None:
    """A call of `name` from argument text: "[1, 2], 3", "arr = [1], k = 3", "x : 5"."""
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()]
    if not lines:
        return None
    fixed = []
    for line in lines:
        m = re.match(r"^([A-Za-z_]\w*)\s*:\s*(\S.*)$", line)
        fixed.append(f"{m.group(1)} = {m.group(2)}" if m else line)
    for joined in ("\n".join(fixed), ", ".join(fixed)):
        joined = joined.strip().rstrip(",")
        node = parse_expr(f"_f({joined})")
        if not isinstance(node, ast.Call) or any(k.arg is None for k in node.keywords):
            continue
        if any(isinstance(a, ast.Starred) for a in node.args):
            continue
        if not all(call_ok(a, name) for a in node.args) or not all(
                call_ok(k.value, name) for k in node.keywords):
            continue
        if params is not None and len(params) == 1 and len(node.args) > 1 and not node.keywords:
            # one parameter: "Input: 1, 2, 3" is a single tuple, not three arguments
            inner = parse_expr(f"({joined})")
            if inner is None:
                continue
            return _build_call(name, [inner], [], params)
        return _build_call(name, list(node.args), [(k.arg, k.value) for k in node.keywords
                                                   if k.arg is not None], params)
    return None


def _assignments(text: str, name: str, params: list[str] | None) -> str | None:
    """`x = 1, y = "a"` (prose may follow after a comma) -> a call; the longest parse wins."""
    parts = _split_top(text)
    for k in range(len(parts), 0, -1):
        joined = ",".join(parts[:k]).strip()
        node = parse_expr(f"_f({joined})")
        if not isinstance(node, ast.Call) or node.args or not node.keywords:
            continue
        if any(k.arg is None for k in node.keywords):
            continue
        if not all(call_ok(kw.value, name) for kw in node.keywords):
            continue
        return _build_call(name, [], [(kw.arg, kw.value) for kw in node.keywords
                                      if kw.arg is not None], params)
    return None


# --- free text -----------------------------------------------------------------------------------


_SEPARATOR = re.compile(
    r"""[ \t]*(?:
        (?P<sym>(?:\#[ \t]*)?(?:==>|-->|=>|->|→|➞|⟹|⇒)
          | ==(?!=)
          | =(?![=>])
          | \#[ \t]*(?:returns?:?|==|=)?)
        | (?P<word>(?:\#[ \t]*)?(?:returns?|gives|yields?|outputs?|evaluates\s+to|equals
              |is\s+equal\s+to|should\s+(?:return|be|give|output|equal)
              |will\s+(?:return|be|give|output)|would\s+(?:return|be)|is(?!\s+not\b)))\b:?
    )""",
    re.X,
)


def _free_text_calls(text: str, name: str, params: list[str] | None) -> list[Example]:
    examples: list[Example] = []
    pattern = re.compile(r"(?<![\w.])" + re.escape(name) + r"\(")
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            break
        close = _match_close(text, m.end() - 1)
        if close is None:
            pos = m.end()
            continue
        pos = close + 1
        call = parse_expr(text[m.start():close + 1])
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == name):
            continue
        if not call_ok(call, name):
            call = _quote_bare_words(call, params or [])
            if call is None or not call_ok(call, name):
                continue
        if _calls_inside(call, name):
            continue
        if params is not None and not any(p.startswith("*") for p in params) and \
                len(call.args) + len(call.keywords) > len(params):
            continue
        rest = text[close + 1:]
        sep = _SEPARATOR.match(rest)
        if sep is None or not sep.group(0).strip():
            continue
        after = rest[sep.end():]
        if sep.group("word"):
            after = after.lstrip()
        else:
            after = after.lstrip(" \t")
            if after.startswith("\n"):
                continue
        value = _value_from(after)
        if value is None:
            continue
        examples.append(Example(call=ast.unparse(call), expected=ast.unparse(value),
                                kind="example", source_line=text.count("\n", 0, m.start())))
    return examples


def _quote_bare_words(call: ast.Call, params: list[str]) -> ast.Call | None:
    """`is_happy(abcd) => True` in prose means the string "abcd": quote arguments that are bare,
    unknown lowercase words. A parameter's own name (`f(x) = 4`) is a definition, and names
    like `DEFAULT` or `my_list` are more likely the module's own names: neither is quoted."""
    names = {p.lstrip("*") for p in params}
    args: list[ast.expr] = []
    quoted = False
    for arg in call.args:
        if (isinstance(arg, ast.Name) and arg.id.isalpha() and arg.id.islower()
                and arg.id not in BUILTIN_NAMES and arg.id not in names):
            args.append(ast.Constant(arg.id))
            quoted = True
        else:
            args.append(arg)
    if not quoted:
        return None
    return ast.Call(func=call.func, args=args, keywords=call.keywords)


def _calls_inside(call: ast.Call, name: str) -> bool:
    return any(calls_to(a, name, methods=False) for a in list(call.args) + [
        k.value for k in call.keywords])


_FOR_FORM = re.compile(
    r"(?im)\bfor\s+(?P<args>[^\n]+?)[\s,]+the\s+(?:output|result|answer|return(?:ed)?\s+value)"
    r"\s+(?:should|will|would|must)\s+be\s*:?[ \t]*")


def _for_forms(text: str, name: str, params: list[str] | None) -> list[Example]:
    examples = []
    for m in _FOR_FORM.finditer(text):
        call = _assignments(m.group("args"), name, params)
        if call is None:
            continue
        value = _value_from(text[m.end():])
        if value is None:
            continue
        examples.append(Example(call=call, expected=ast.unparse(value), kind="example",
                                source_line=text.count("\n", 0, m.start())))
    return examples


_INPUT = re.compile(r"(?i)\binputs?\s*:")
_OUTPUT = re.compile(r"(?i)\b(?:output|result|returns?)\s*:")
_BLOCK_END = re.compile(r"(?i)\b(?:explanation|example|note|constraints?)\b\s*\d*\s*:")


def _input_output(text: str, name: str, params: list[str] | None) -> list[Example]:
    examples = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _INPUT.search(lines[i])
        if m is None:
            i += 1
            continue
        start_line = i
        chunk = [lines[i][m.end():]]
        output = None
        j = i
        while True:
            om = _OUTPUT.search(chunk[-1])
            if om is not None:
                out_text = chunk[-1][om.end():]
                chunk[-1] = chunk[-1][:om.start()]
                rest_lines = lines[j + 1:j + 4]
                if not out_text.strip():
                    nxt = next((k for k, line in enumerate(rest_lines) if line.strip()), None)
                    out_text = rest_lines[nxt] if nxt is not None else ""
                    rest_lines = rest_lines[nxt + 1:] if nxt is not None else []
                output = out_text + "\n" + "\n".join(rest_lines)
                break
            j += 1
            if j >= len(lines) or j - i > 12 or _INPUT.search(lines[j]) or \
                    _BLOCK_END.search(lines[j]):
                break
            chunk.append(lines[j])
        i = max(j, i) + 1
        if output is None:
            continue
        call = _args_from("\n".join(chunk), name, params)
        if call is None:
            continue
        value = _value_from(output.lstrip(" \t"))
        if value is None:
            continue
        examples.append(Example(call=call, expected=ast.unparse(value), kind="example",
                                source_line=start_line))
    return examples


_ASSIGN_LINE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(\S.*?)\s*$")
_RETURN_LINE = re.compile(r"^\s*(?:return|returns|output|result)\s*(?:=|:)?\s*(\S.*)$", re.I)


def _assign_return(text: str, name: str, params: list[str] | None) -> list[Example]:
    """`arr = [...]` lines naming every parameter, then a `return ...` line soon after."""
    plain = [p for p in (params or []) if not p.startswith("*")]
    if not plain:
        return []
    examples = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        assigned: dict[str, str] = {}
        j = i
        while j < len(lines):
            m = _ASSIGN_LINE.match(lines[j])
            if not m or m.group(1) not in plain or m.group(1) in assigned:
                break
            assigned[m.group(1)] = m.group(2)
            j += 1
        if not assigned or set(assigned) != set(plain):
            i = max(j, i + 1)
            continue
        for k in range(j, min(j + 6, len(lines))):
            r = _RETURN_LINE.match(lines[k])
            if r:
                call = _assignments(", ".join(f"{a} = {v}" for a, v in assigned.items()),
                                    name, params)
                value = _value_from(r.group(1))
                if call is not None and value is not None:
                    examples.append(Example(call=call, expected=ast.unparse(value),
                                            kind="example", source_line=i))
                j = k + 1
                break
            if _ASSIGN_LINE.match(lines[k]):
                break
        i = max(j, i + 1)
    return examples


def prose_examples(text: str, name: str, params: list[str] | None) -> list[Example]:
    """The examples of calling `name` in each prose form, form by form."""
    return (_free_text_calls(text, name, params) + _for_forms(text, name, params)
            + _input_output(text, name, params) + _assign_return(text, name, params))

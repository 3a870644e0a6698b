"""Examples written in docstrings, turned into checks (the cheapest trusted evidence).

Recognised forms: doctests (`>>> call` + expected output, `...` continuations, expected
exceptions), and the free-text forms docstrings use: `f(x) == y`, `f(x) ➞ y`, `f(x) => y`,
`f(x) -> y`, `f(x) = y`, `f(x) # => y`, `f(x) returns y`, `f(x) should return y`,
`f(x) is y`, `For x = 1, y = 2 the output should be 3`, `Input: ... Output: ...` blocks and
`x = ...` lines followed by `return ...`.

An example is only emitted when its call is a valid expression calling the function (with no
names it cannot resolve) and its expected value is a valid, self-contained Python expression.
A doctest whose output is not an expression (printed text) keeps its call with `expected=None`:
useful as an input, never as a check with a value.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import re
import textwrap
from dataclasses import dataclass, field

__all__ = ["Example", "docstring_examples", "example_checks"]


@dataclass
class Example:
    call: str  # a Python expression that calls the function
    expected: str | None  # a Python expression for the expected value; None if unknown
    kind: str  # "doctest" | "example"
    source_line: int  # 0-based line in the docstring where the example starts
    setup: list[str] = field(default_factory=list)  # doctest statements the call needs first
    raises: str | None = None  # the exception the doctest expects (its class name)

    @property
    def is_check(self) -> bool:
        return self.expected is not None or self.raises is not None


BUILTIN_NAMES = frozenset(dir(builtins))
_CONSTRUCTORS = frozenset({"float", "int", "str", "bool", "set", "frozenset", "tuple", "list",
                           "dict", "bytes", "complex", "range"})
_MAX_TEXT = 4000  # longest call or value considered
_MAX_CUTS = 80  # places a value followed by prose may end, longest first
_MAX_DOCSTRING = 100_000


# --- expression checks --------------------------------------------------------------------------


def _parse_expr(text: str) -> ast.expr | None:
    if not text.strip() or len(text) > _MAX_TEXT:
        return None
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _value_ok(node: ast.AST, depth: int = 0) -> bool:
    """A self-contained value: literals, containers, arithmetic on numbers, a few constructors."""
    if depth > 60:
        return False
    if isinstance(node, ast.Constant):
        return node.value is not Ellipsis
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_value_ok(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _value_ok(k, depth + 1) for k in node.keys) and all(
            _value_ok(v, depth + 1) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.USub, ast.UAdd, ast.Not, ast.Invert)) and _value_ok(
            node.operand, depth + 1)
    if isinstance(node, ast.BinOp):
        if not (_value_ok(node.left, depth + 1) and _value_ok(node.right, depth + 1)):
            return False
        if isinstance(node.op, ast.Pow):
            exp = node.right
            return isinstance(exp, ast.Constant) and isinstance(exp.value, (int, float)) \
                and abs(exp.value) <= 1000
        if isinstance(node.op, ast.Mult):
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, (ast.List, ast.Tuple)) or (
                        isinstance(a, ast.Constant) and isinstance(a.value, (str, bytes))):
                    return isinstance(b, ast.Constant) and isinstance(b.value, int) \
                        and b.value <= 100_000
        return True
    if isinstance(node, ast.Call):
        return (isinstance(node.func, ast.Name) and node.func.id in _CONSTRUCTORS
                and not node.keywords and len(node.args) <= 2
                and all(_value_ok(a, depth + 1) for a in node.args))
    return False


def _free_names(node: ast.AST) -> set[str]:
    """Names an expression reads that it does not bind itself (lambdas, comprehensions)."""
    free: set[str] = set()

    def visit(n: ast.AST, bound: frozenset[str]) -> None:
        if isinstance(n, ast.Name):
            if n.id not in bound:
                free.add(n.id)
            return
        if isinstance(n, ast.Lambda):
            a = n.args
            names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
            names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
            for d in list(a.defaults) + [d for d in a.kw_defaults if d is not None]:
                visit(d, bound)
            visit(n.body, bound | names)
            return
        if isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = bound
            for gen in n.generators:
                visit(gen.iter, inner)
                inner = inner | {t.id for t in ast.walk(gen.target) if isinstance(t, ast.Name)}
                for cond in gen.ifs:
                    visit(cond, inner)
            if isinstance(n, ast.DictComp):
                visit(n.key, inner)
                visit(n.value, inner)
            else:
                visit(n.elt, inner)
            return
        for child in ast.iter_child_nodes(n):
            visit(child, bound)

    visit(node, frozenset())
    return free


def _has_ellipsis(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(node))


def _calls(node: ast.AST, name: str, methods: bool) -> list[ast.Call]:
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            if (isinstance(f, ast.Name) and f.id == name) or (
                    methods and isinstance(f, ast.Attribute) and f.attr == name):
                out.append(n)
    return out


def _call_ok(node: ast.expr, name: str, allowed: set[str] | frozenset[str]) -> bool:
    if _has_ellipsis(node):
        return False
    return _free_names(node) <= (BUILTIN_NAMES | allowed | {name})


def _expected_node(text: str, allowed: frozenset[str] = frozenset()) -> ast.expr | None:
    node = _parse_expr(text)
    if node is None:
        return None
    if isinstance(node, ast.Name) and node.id.lower() in _WORD_VALUES:
        return ast.Constant(_WORD_VALUES[node.id.lower()])
    if _value_ok(node):
        return node
    return None


_WORD_VALUES = {"true": True, "false": False, "none": None, "null": None}


# --- scanning helpers ---------------------------------------------------------------------------


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


def _match_close(text: str, open_index: int, limit: int = _MAX_TEXT) -> int | None:
    """Index of the bracket closing text[open_index], strings skipped; None if unbalanced."""
    depth = 0
    j = open_index
    end = min(len(text), open_index + limit)
    while j < end:
        c = text[j]
        if c in "'\"":
            j = _string_end(text, j)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return j
            if depth < 0:
                return None
        j += 1
    return None


def _logical_line(text: str, start: int) -> str:
    """From `start` to the end of its line, continued over lines while brackets are open."""
    depth = 0
    j = start
    while j < len(text) and j - start < _MAX_TEXT:
        c = text[j]
        if c in "'\"":
            j = _string_end(text, j)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c == "\n" and depth == 0:
            break
        elif c == "#" and depth == 0:
            nl = text.find("\n", j)
            j = len(text) if nl == -1 else nl
            continue
        j += 1
    return text[start:j]


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, j, last = [], 0, 0, 0
    while j < len(text):
        c = text[j]
        if c in "'\"":
            j = _string_end(text, j)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[last:j])
            last = j + 1
        j += 1
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
        node = _expected_node(frag)
        if node is None:
            continue
        if _acceptable_rest(line_rest[end:]):
            return node
    return None


# --- building calls -----------------------------------------------------------------------------


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
        node = _parse_expr(f"_f({joined})")
        if not isinstance(node, ast.Call) or any(k.arg is None for k in node.keywords):
            continue
        if any(isinstance(a, ast.Starred) for a in node.args):
            continue
        if not all(_call_ok(a, name, frozenset()) for a in node.args) or not all(
                _call_ok(k.value, name, frozenset()) for k in node.keywords):
            continue
        if params is not None and len(params) == 1 and len(node.args) > 1 and not node.keywords:
            # one parameter: "Input: 1, 2, 3" is a single tuple, not three arguments
            inner = _parse_expr(f"({joined})")
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
        node = _parse_expr(f"_f({joined})")
        if not isinstance(node, ast.Call) or node.args or not node.keywords:
            continue
        if any(k.arg is None for k in node.keywords):
            continue
        if not all(_call_ok(kw.value, name, frozenset()) for kw in node.keywords):
            continue
        return _build_call(name, [], [(kw.arg, kw.value) for kw in node.keywords
                                      if kw.arg is not None], params)
    return None


# --- doctests -----------------------------------------------------------------------------------


def _bound_names(stmt: ast.stmt) -> set[str]:
    names: set[str] = set()
    for n in ast.walk(stmt):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                names.add((a.asname or a.name).split(".")[0])
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
    return names


def _doctest_items(doc: str) -> list[doctest.Example]:
    parser = doctest.DocTestParser()
    try:
        return parser.get_examples(doc)
    except ValueError:
        pass
    # one malformed example must not hide the others: parse each ">>>" chunk on its own
    lines = doc.split("\n")
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith(">>>")]
    items: list[doctest.Example] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        chunk = "\n".join(lines[start:end])
        try:
            found = parser.get_examples(chunk)
        except ValueError:
            continue
        for ex in found:
            ex.lineno += start
            items.append(ex)
    return items


def _exception_name(exc_msg: str) -> str | None:
    """"ValueError: bad input" -> "ValueError"; "pkg.mod.Error: x" -> "Error"."""
    m = re.match(r"^([A-Za-z_][\w.]*)\s*(?::|$)", exc_msg.strip())
    return m.group(1).split(".")[-1] if m else None


def _doctest_examples(doc: str, name: str) -> tuple[list[Example], set[int]]:
    examples: list[Example] = []
    used_lines: set[int] = set()
    setup: list[str] = []
    setup_names: set[str] = set()
    for ex in _doctest_items(doc):
        n_lines = ex.source.count("\n") + ex.want.count("\n")
        used_lines.update(range(ex.lineno, ex.lineno + max(1, n_lines)))
        if ex.options.get(doctest.SKIP):
            continue
        try:
            tree = ast.parse(ex.source)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
            setup.append(ex.source.rstrip("\n"))
            for stmt in tree.body:
                setup_names |= _bound_names(stmt)
            continue
        expr = tree.body[0].value
        if not _calls(expr, name, methods=True):
            continue
        want = textwrap.dedent(ex.want).strip()
        ellipsis = bool(ex.options.get(doctest.ELLIPSIS))
        call: ast.expr | None = None
        expected: ast.expr | None = None
        raises = None
        if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(
                expr.ops[0], ast.Eq) and _calls(expr.left, name, methods=True):
            # ">>> f(x) == y" (with "True" or, sloppily, nothing as its output)
            if ex.exc_msg is not None or want not in ("", "True"):
                continue
            call, expected = expr.left, expr.comparators[0]
            if not _value_ok(expected):
                continue
        elif (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
              and expr.func.id == "print" and len(expr.args) == 1 and not expr.keywords):
            call = expr.args[0]
            node = _want_node(want, ellipsis)
            if node is not None and not (isinstance(node, ast.Constant)
                                         and isinstance(node.value, str)):
                expected = node  # str() and repr() agree for everything but strings
        else:
            call = expr
            if ex.exc_msg is not None:
                raises = _exception_name(ex.exc_msg)
                if raises is None:
                    continue
            elif want == "":
                loose = _loose_value(ex.source, expr, name)
                if loose is not None:
                    call, expected = loose
                else:
                    expected = ast.Constant(None)  # doctest: no output means None
            else:
                expected = _want_node(want, ellipsis)
        if call is None or not _calls(call, name, methods=True) or _has_ellipsis(call):
            continue
        # A doctest runs in the module's globals (as the checks do): names it uses beyond its
        # own setup are the module's. Free-text examples get no such trust.
        examples.append(Example(
            call=ast.unparse(call), expected=None if expected is None else ast.unparse(expected),
            kind="doctest", source_line=ex.lineno, setup=list(setup), raises=raises))
    return examples, used_lines


def _want_node(want: str, ellipsis: bool) -> ast.expr | None:
    if not want or "<BLANKLINE>" in want or (ellipsis and "..." in want):
        return None
    node = _parse_expr(want)
    if node is None:
        return None
    if isinstance(node, ast.Name) and node.id.lower() in _WORD_VALUES:
        return None  # a printed word, not a Python value
    return node if _value_ok(node) else None


def _loose_value(source: str, expr: ast.expr, name: str) -> tuple[ast.expr, ast.expr] | None:
    """">>> f(x) [1, 2]" with no output: a call followed by its result on the same line."""
    if not isinstance(expr, ast.Subscript):
        return None
    inner = expr.value
    if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
            and inner.func.id == name and inner.end_lineno == 1):
        return None
    line = source.split("\n")[0]
    end = len(line.encode("utf-8")[: inner.end_col_offset or 0].decode("utf-8", "ignore"))
    rest = line[end:]
    if not rest[:1].isspace():
        return None
    value = _expected_node(rest.strip())
    if value is None or not isinstance(value, (ast.List, ast.Tuple, ast.Dict, ast.Set,
                                                ast.Constant)):
        return None
    return inner, value


# --- free text ----------------------------------------------------------------------------------


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
        call = _parse_expr(text[m.start():close + 1])
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == name):
            continue
        if not _call_ok(call, name, frozenset()):
            call = _quote_bare_words(call, params or [])
            if call is None or not _call_ok(call, name, frozenset()):
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
    return any(_calls(a, name, methods=False) for a in list(call.args) + [
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


# --- public API ---------------------------------------------------------------------------------


def docstring_examples(docstring: str, func_name: str,
                       params: list[str] | None = None) -> list[Example]:
    """The examples in a docstring, in order of appearance. `params` (the parameter names,
    without `self`) lets the `For x = ...` / `Input: ...` forms check their arity and order
    keyword-style inputs; without it they are passed by position as written."""
    if not docstring or not func_name:
        return []
    doc = docstring[:_MAX_DOCSTRING].expandtabs()
    examples, used = _doctest_examples(doc, func_name)
    lines = doc.split("\n")
    masked = "\n".join("" if i in used else line for i, line in enumerate(lines))
    examples += _free_text_calls(masked, func_name, params)
    examples += _for_forms(masked, func_name, params)
    examples += _input_output(masked, func_name, params)
    examples += _assign_return(masked, func_name, params)
    seen: set[tuple] = set()
    unique = []
    for e in sorted(examples, key=lambda e: e.source_line):
        key = (e.call, e.expected, tuple(e.setup), e.raises)
        if key in seen:
            continue
        seen.add(key)
        unique.append(e)
    return unique


def _needs_parens(node: ast.expr) -> bool:
    """Whether `x == <node>` needs parentheses around the node (everything but these binds
    tighter than a comparison)."""
    return isinstance(node, (ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.NamedExpr)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))


def _paren(text: str, node: ast.expr) -> str:
    return f"({text})" if _needs_parens(node) else text


def _float_literal(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _float_literal(node.operand)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _number_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and \
        _number_literal(node.operand)


def _tolerance(values: list[float]) -> str:
    scale = max([1.0] + [abs(v) for v in values if v == v and abs(v) != float("inf")])
    return format(1e-6 * scale, ".3g")


def example_checks(examples: list[Example]) -> list[str]:
    """Check snippets for the sandbox, one per example that has an expected value or exception:
    `assert f(1) == 2`; floats compare with a tolerance; doctest setup lines come first."""
    checks: list[str] = []
    for e in examples:
        call_node = _parse_expr(e.call)
        if call_node is None:
            continue
        call = _paren(e.call, call_node)
        prefix = "".join(s.rstrip("\n") + "\n" for s in e.setup)
        if e.raises is not None:
            name = e.raises
            checks.append(
                f"{prefix}try:\n    {e.call}\nexcept Exception as _e:\n"
                f"    assert type(_e).__name__ == {name!r}, "
                f"f'expected {name}, got {{type(_e).__name__}}: {{_e}}'\n"
                f"else:\n    raise AssertionError({('expected ' + name + ' to be raised')!r})")
            continue
        if e.expected is None:
            continue
        node = _parse_expr(e.expected)
        if node is None:
            continue
        expected = _paren(e.expected, node)
        if isinstance(node, ast.Constant) and node.value is None:
            checks.append(f"{prefix}assert {call} is None")
            continue
        scalar = _float_literal(node)
        if scalar is not None and scalar == scalar and abs(scalar) != float("inf"):
            tol = _tolerance([scalar])
            if isinstance(node, ast.UnaryOp):
                expected = f"({e.expected})"
            checks.append(f"{prefix}assert abs((_v := {e.call}) - {expected}) < {tol}, "
                          f"f'expected {e.expected}, got {{_v!r}}'")
            continue
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts and all(
                _number_literal(x) for x in node.elts) and any(
                _float_literal(x) is not None for x in node.elts):
            floats = [v for v in (_float_literal(x) for x in node.elts) if v is not None]
            if all(v == v and abs(v) != float("inf") for v in floats):
                kind = "list" if isinstance(node, ast.List) else "tuple"
                tol = _tolerance(floats)
                checks.append(
                    f"{prefix}assert isinstance(_v := {e.call}, {kind}) and len(_v) == "
                    f"{len(node.elts)} and all(abs(_a - _b) < {tol} for _a, _b in "
                    f"zip(_v, {e.expected})), f'expected {e.expected}, got {{_v!r}}'")
                continue
        checks.append(f"{prefix}assert {call} == {expected}")
    return checks

"""What a function can use from its module (imports, assignments, the other definitions'
signatures and docstrings), as compact source for a prompt."""

from __future__ import annotations

import inspect
import re
import textwrap

import tree_sitter

from verifix.code.functions import FunctionInfo, docstring_node, header_colon, string_value
from verifix.code.parsing import ParsedModule, Source, parse, walk


def _short_doc(mod: ParsedModule, doc_node: tree_sitter.Node | None, indent: str,
               max_lines: int = 3) -> list[str]:
    if doc_node is None:
        return []
    value = string_value(mod.text(doc_node))
    if value is None:
        return []
    lines = inspect.cleandoc(value).splitlines()
    if not lines:
        return []
    shown = lines[:max_lines]
    if len(lines) > max_lines:
        shown.append("...")
    if len(shown) == 1:
        return [f'{indent}"""{_escape_doc(shown[0])}"""']
    return ([f'{indent}"""{_escape_doc(shown[0])}']
            + [f"{indent}{_escape_doc(s)}" if s else "" for s in shown[1:]] + [f'{indent}"""'])


def _escape_doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _def_skeleton(mod: ParsedModule, outer: tree_sitter.Node, fn: tree_sitter.Node,
                  indent: str, body: str | None = None) -> list[str]:
    decorators = [indent + mod.text(d).strip() for d in outer.children if d.type == "decorator"]
    colon = header_colon(fn)
    end = colon.end_byte if colon is not None else fn.end_byte
    header = textwrap.dedent(mod.text(fn.start_byte, end)).split("\n")
    lines = decorators + [indent + header[0]] + header[1:]
    if body is not None:
        return lines + [indent + line if line else "" for line in body.split("\n")]
    doc = _short_doc(mod, docstring_node(fn.child_by_field_name("body")), indent + "    ")
    return lines + doc + [indent + "    ..."]


def _class_skeleton(mod: ParsedModule, outer: tree_sitter.Node, cls: tree_sitter.Node,
                    skip: int | None) -> list[str]:
    decorators = [mod.text(d).strip() for d in outer.children if d.type == "decorator"]
    body = cls.child_by_field_name("body")
    header_end = body.start_byte if body is not None else cls.end_byte
    header = mod.text(cls.start_byte, header_end).rstrip()
    lines = decorators + header.split("\n")
    doc = docstring_node(body)
    lines += _short_doc(mod, doc, "    ")
    members = 0
    for child in body.named_children if body is not None else []:
        if doc is not None and child.start_byte <= doc.start_byte < child.end_byte:
            continue
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        if target.type == "function_definition":
            if skip is not None and target.start_byte == skip:
                continue
            lines += _def_skeleton(mod, child, target, "    ")
            members += 1
        elif child.type == "expression_statement" and child.named_child_count and \
                child.named_children[0].type == "assignment":
            text = mod.text(child)
            lines.append("    " + (text if "\n" not in text and len(text) <= 100
                                   else text.split("=")[0].rstrip() + " = ..."))
            members += 1
        if members >= 12:
            lines.append("    # ... more members")
            break
    if len(lines) == len(decorators) + len(header.split("\n")):
        lines.append("    ...")
    return lines


def module_context(source: Source, fn: FunctionInfo, max_lines: int = 60,
                   helper_body_lines: int = 12) -> str:
    """What the function can use from its module, as compact source for a prompt: the imports,
    module-level assignments, and the signatures + docstrings of the other top-level functions
    and classes (not their bodies; a helper the function names whose body has at most
    `helper_body_lines` lines is shown whole, since its code is the specification of e.g. an
    inverse). Bounded to about `max_lines` lines; things the function mentions come first."""
    mod = parse(source)
    mentioned = set(re.findall(r"[A-Za-z_]\w*", fn.text))
    items: list[tuple[int, int, list[str]]] = []  # (priority, order, lines)
    target_top = fn.scopes[0] if fn.scopes else None
    for order, child in enumerate(mod.root.children):
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        kind = target.type
        if kind in ("import_statement", "import_from_statement", "future_import_statement"):
            items.append((0, order, mod.text(child).split("\n")))
        elif kind == "function_definition":
            if target.start_byte == fn.def_start_byte:
                continue
            name_node = target.child_by_field_name("name")
            name = mod.text(name_node) if name_node is not None else ""
            if target_top is not None and target_top == ("def", name):
                continue  # the function that encloses the target: its body is the target's home
            if name.startswith("test"):
                continue
            body = target.child_by_field_name("body")
            full = None
            if name in mentioned and body is not None and helper_body_lines > 0:
                body_text = textwrap.dedent(
                    " " * (body.start_point[1]) + mod.text(body)).rstrip()
                if body_text.count("\n") + 1 <= helper_body_lines:
                    full = textwrap.indent(body_text, "    ")
            items.append((1 if name in mentioned else 2, order,
                          _def_skeleton(mod, child, target, "", full)))
        elif kind == "class_definition":
            name_node = target.child_by_field_name("name")
            name = mod.text(name_node) if name_node is not None else ""
            own = target_top == ("class", name)
            if name.startswith("Test") and not own:
                continue
            items.append((1 if (own or name in mentioned) else 2, order,
                          _class_skeleton(mod, child, target,
                                          fn.def_start_byte if own else None)))
        elif kind == "expression_statement" and child.named_child_count and \
                child.named_children[0].type in ("assignment", "augmented_assignment"):
            text = mod.text(child)
            left = child.named_children[0].child_by_field_name("left")
            name = mod.text(left) if left is not None else ""
            if "\n" in text or len(text) > 120:
                text = f"{name} = ..."
            items.append((1 if name in mentioned else 2, order, [text]))
        elif kind in ("if_statement", "try_statement"):
            text = mod.text(child)
            if "__name__" in text.split("\n")[0]:
                continue
            statements = [n for n in walk(child)
                          if n.type.endswith("_statement") and n is not child
                          and n.type not in ("import_statement", "import_from_statement",
                                             "pass_statement", "expression_statement")]
            if not statements and text.count("\n") < 8 and "import" in text:
                items.append((0, order, text.split("\n")))
    ranked = sorted(items, key=lambda it: (it[0], it[1]))
    chosen: list[tuple[int, int, list[str]]] = []
    for item in ranked:  # greedily, most relevant first, while the text stays in bounds
        if len(_render(chosen + [item], len(items) - len(chosen) - 1)) <= max_lines:
            chosen.append(item)
    return "\n".join(_render(chosen, len(items) - len(chosen))).strip("\n") + (
        "\n" if chosen or items else "")


def _render(chosen: list[tuple[int, int, list[str]]], omitted: int) -> list[str]:
    out: list[str] = []
    previous_kind = None
    previous_multi = False
    for priority, _order, lines in sorted(chosen, key=lambda it: it[1]):
        kind = "import" if priority == 0 and any(
            line.startswith(("import ", "from ")) for line in lines) else "other"
        multi = len(lines) > 1 and kind != "import"
        if out and (multi or kind != previous_kind or previous_multi):
            out.append("")
        out.extend(lines)
        previous_kind = kind
        previous_multi = multi
    if omitted:
        out.append(f"# ... {omitted} more module-level definitions not shown")
    return out

"""verifix.code: reading and editing Python source, the bottom layer (it imports nothing else
from verifix). The public API, re-exported from modules named after what they hold."""

from verifix.code.context import module_context
from verifix.code.docstring_checks import docstring_examples, example_checks
from verifix.code.editing import add_imports, splice
from verifix.code.example_values import Example
from verifix.code.functions import (
    FunctionInfo,
    find_function,
    function_at,
    function_examples,
    list_functions,
)
from verifix.code.parsing import (
    ParsedModule,
    byte_col_to_codepoint,
    byte_col_to_utf16,
    codepoint_col_to_byte,
    offset_of,
    parse,
    position_of,
    utf16_col_to_byte,
)
from verifix.code.project_imports import called_functions, project_callees, resolve_import
from verifix.code.project_tests import TestRef, find_tests, is_test_file, node_id
from verifix.code.replies import ExtractedCode, extract_expressions, extract_function
from verifix.code.tracebacks import Frame, report_without_code, traceback_frames

__all__ = [
    "Frame",
    "report_without_code",
    "traceback_frames",
    "Example",
    "ExtractedCode",
    "FunctionInfo",
    "ParsedModule",
    "TestRef",
    "add_imports",
    "byte_col_to_codepoint",
    "byte_col_to_utf16",
    "called_functions",
    "codepoint_col_to_byte",
    "docstring_examples",
    "example_checks",
    "extract_expressions",
    "extract_function",
    "find_function",
    "find_tests",
    "function_at",
    "function_examples",
    "is_test_file",
    "list_functions",
    "module_context",
    "node_id",
    "offset_of",
    "parse",
    "position_of",
    "project_callees",
    "resolve_import",
    "splice",
    "utf16_col_to_byte",
]

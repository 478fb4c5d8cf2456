"""Compiling and preparing user programs under the sandbox policy.

:func:`compile_program` turns source into a code object with
RestrictedPython, or raises :class:`SandboxViolation` / :class:`SyntaxError`
naming the line. :class:`SandboxPolicy` builds the globals a program runs
with: safe builtins, the guards, a guarded ``__import__`` over the module
allowlist, a bounded ``print``, and the program's ``inputs``.
"""

from __future__ import annotations

import ast
import builtins
import dis
import hashlib
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from RestrictedPython import compile_restricted
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safe_builtins

from common.sandbox.errors import SandboxViolation
from common.sandbox.guards import (
    SANDBOX_MODULE_NAME,
    guarded_apply,
    guarded_delattr,
    guarded_getattr,
    guarded_getitem,
    guarded_hasattr,
    guarded_inplacevar,
    guarded_setattr,
    guarded_write,
    sandbox_type,
)
from common.sandbox.modules import DEFAULT_ALLOWED_MODULES, ModuleRegistry

__all__ = ["SANDBOX_MODULE_NAME", "CompiledProgram", "OutputBuffer", "SandboxPolicy", "SandboxViolation"]

PROGRAM_FILENAME = "<program>"

_EXTRA_BUILTINS = (
    "list",
    "dict",
    "set",
    "frozenset",
    "tuple",
    "bytes",
    "enumerate",
    "zip",
    "map",
    "filter",
    "min",
    "max",
    "sum",
    "any",
    "all",
    "sorted",
    "reversed",
    "iter",
    "next",
    "format",
    "object",
    "staticmethod",
    "classmethod",
    "property",
    "super",
    "NotImplemented",
    "StopAsyncIteration",
    "RecursionError",
    "TimeoutError",
    "ConnectionError",
    "PermissionError",
    "FileNotFoundError",
)
_REFUSED_BUILTINS = ("setattr", "delattr")

_IMPORT_NAME = dis.opmap["IMPORT_NAME"]

_LINE = re.compile(r"^Line (\d+):\s*(.*)$", re.S)


@dataclass(frozen=True)
class CompiledProgram:
    code: Any
    sha256: str


class _AugAssignRewrite(ast.NodeTransformer):
    """Rewrites ``obj.attr += v`` and ``obj[key] += v`` as ``target = target + v``.

    RestrictedPython refuses augmented assignment to attributes and items
    outright, which would make ordinary code (``self.total += x``,
    ``counts[word] += 1``) fail. The rewrite goes through the same read and
    write guards as any other access; the differences are that the target's
    object and key expressions are evaluated twice and the right-hand side is a
    new object rather than mutated in place.
    """

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        target = node.target
        if isinstance(target, ast.Attribute):
            load: ast.expr = ast.Attribute(value=target.value, attr=target.attr, ctx=ast.Load())
            store: ast.expr = ast.Attribute(value=target.value, attr=target.attr, ctx=ast.Store())
        elif isinstance(target, ast.Subscript):
            load = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
            store = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Store())
        else:
            return node
        assign = ast.Assign(targets=[store], value=ast.BinOp(left=load, op=node.op, right=node.value))
        return ast.fix_missing_locations(ast.copy_location(assign, node))


def compile_program(source: str, *, mode: str = "exec", filename: str = PROGRAM_FILENAME) -> CompiledProgram:
    """Compile ``source`` under the policy.

    Raises :class:`SyntaxError` for invalid Python and :class:`SandboxViolation`
    for code the policy refuses; both carry ``lineno``.
    """
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    tree = _AugAssignRewrite().visit(ast.parse(source, filename, mode))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # "prints but never reads 'printed'"
            code = compile_restricted(tree, filename, mode)
    except SyntaxError as exc:
        if exc.args and isinstance(exc.args[0], tuple):  # RestrictedPython's policy errors
            raise _violation(exc.args[0]) from None
        raise
    return CompiledProgram(code=code, sha256=digest)


def _violation(errors: tuple[str, ...]) -> SandboxViolation:
    first = errors[0] if errors else "the program was refused"
    match = _LINE.match(first)
    if match is None:
        return SandboxViolation(first)
    return SandboxViolation(match.group(2).rstrip("."), lineno=int(match.group(1)))


class OutputBuffer:
    """What ``print`` writes, bounded; past the limit a marker replaces the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def write(self, text: str) -> None:
        if self.truncated:
            return
        room = self.limit - self.size
        if len(text) > room:
            self.parts.append(text[:room])
            self.size = self.limit
            self.truncated = True
            return
        self.parts.append(text)
        self.size += len(text)

    def getvalue(self) -> str:
        text = "".join(self.parts)
        if self.truncated:
            text += f"\n[output truncated: more than {self.limit} characters]\n"
        return text


class _Printer:
    """The object RestrictedPython's rewritten ``print`` calls."""

    def __init__(self, buffer: OutputBuffer) -> None:
        self.buffer = buffer

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        if kwargs.get("file") is not None:
            raise SandboxViolation("print(file=...) is not allowed in the sandbox")
        kwargs.pop("flush", None)
        kwargs["file"] = self.buffer
        print(*objects, **kwargs)  # noqa: T201 - this is the sandbox's print, writing to its buffer

    def __call__(self) -> str:
        return self.buffer.getvalue()


class SandboxPolicy:
    """The builtins, guards and importable modules of sandboxed programs."""

    def __init__(
        self, *, allowed_modules: frozenset[str] = DEFAULT_ALLOWED_MODULES, extra_modules: dict[str, Any] | None = None
    ) -> None:
        self.modules = ModuleRegistry(allowed_modules, extra_modules)
        self.builtins = self._builtins()
        #: Top-level modules programs imported since the last :meth:`take_imported`.
        self.imported: set[str] = set()

    def take_imported(self) -> set[str]:
        imported, self.imported = self.imported, set()
        return imported

    def _builtins(self) -> dict[str, Any]:
        table = {name: value for name, value in safe_builtins.items() if name not in _REFUSED_BUILTINS}
        table.update({name: getattr(builtins, name) for name in _EXTRA_BUILTINS})
        table.update(
            {
                "__import__": self.guarded_import,
                "getattr": guarded_getattr,
                "hasattr": guarded_hasattr,
                "setattr": guarded_setattr,
                "delattr": guarded_delattr,
                "type": sandbox_type,
                "SandboxViolation": SandboxViolation,
            }
        )
        return table

    def guarded_import(
        self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        """``__import__`` of sandboxed programs.

        C code that imports (``np.mean`` loading ``numpy._core._methods``) looks
        ``__import__`` up in the builtins of the innermost Python frame, which is
        the program's; those imports are the library's own business and go to the
        real import system, their modules never handed to the program. Only an
        ``import`` statement executed in program code is held to the policy.
        """
        caller = sys._getframe(1)
        if caller.f_code.co_filename != PROGRAM_FILENAME or caller.f_code.co_code[caller.f_lasti] != _IMPORT_NAME:
            return builtins.__import__(name, globals, locals, fromlist, level)
        if level != 0:
            raise SandboxViolation("relative imports are not allowed in the sandbox")
        if not self.modules.is_allowed(name):
            top = name.split(".", 1)[0]
            raise SandboxViolation(
                f"import of {name!r} is not allowed in the sandbox; allowed modules: "
                + ", ".join(sorted(self.modules.allowed | set(self.modules.extra)))
                + ("" if top == name else f" (and selected submodules of {top})")
            )
        self.imported.add(name.split(".", 1)[0])
        if fromlist or "." not in name:
            return self.modules.resolve(name)
        self.modules.resolve(name)  # `import a.b` binds `a`; a.b must be allowed on its own
        return self.modules.resolve(name.split(".", 1)[0])

    def make_globals(self, *, inputs: dict[str, Any], output: OutputBuffer) -> dict[str, Any]:
        printer = _Printer(output)
        return {
            "__builtins__": self.builtins,
            "__name__": SANDBOX_MODULE_NAME,
            "__metaclass__": type,
            "_getattr_": guarded_getattr,
            "_getitem_": guarded_getitem,
            "_getiter_": iter,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_write_": guarded_write,
            "_inplacevar_": guarded_inplacevar,
            "_apply_": guarded_apply,
            "_print_": lambda _getattr_=None: printer,
            "inputs": inputs,
        }

"""The guard functions RestrictedPython's compiled code calls.

RestrictedPython rewrites ``a.b`` to ``_getattr_(a, "b")``, ``a[b] = c`` to
``_write_(a)[b] = c``, ``x += y`` to ``x = _inplacevar_("+=", x, y)`` and so
on; these functions decide. The rules, beyond RestrictedPython's own
(no names or attributes starting with ``_``, no frame/code/traceback
attributes, no ``str.format``):

- modules are only ever seen through :class:`~common.sandbox.modules.ModuleProxy`;
- pandas and numpy objects refuse their file, URL, pickle and string-evaluation
  methods (``DataFrame.query``, ``to_pickle``, ``ndarray.tofile``...), and their
  text writers (``to_csv``, ``to_json``...) work only without a path, returning
  the text;
- writes are allowed to plain containers, to instances of classes the program
  itself defined, and to pandas/numpy data objects; never to modules, classes
  or anything else shared with other runs.
"""

from __future__ import annotations

import collections
import operator
import string
from types import ModuleType
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from common.sandbox.errors import SandboxViolation
from common.sandbox.modules import ModuleProxy

#: ``__name__`` of programs, and so ``__module__`` of the classes they define.
SANDBOX_MODULE_NAME = "dataflow_sandbox"

_MISSING = object()

#: Methods of pandas objects refused outright.
PANDAS_DENIED_METHODS = frozenset(
    {
        "eval",
        "query",
        "to_pickle",
        "to_sql",
        "to_hdf",
        "to_clipboard",
        "to_parquet",
        "to_feather",
        "to_orc",
        "to_stata",
        "to_excel",
        "to_gbq",
        "to_xarray",
        "style",
        "plot",
        "hist",
        "boxplot",
    }
)

#: pandas writers allowed only without a destination (they then return text).
PANDAS_TEXT_WRITERS = frozenset({"to_csv", "to_json", "to_html", "to_latex", "to_markdown", "to_string", "to_xml"})
_WRITER_DESTINATIONS = ("path_or_buf", "buf", "path")

NUMPY_DENIED_METHODS = frozenset({"tofile", "dump", "dumps", "ctypes"})

_WRITABLE_TYPES = (dict, list, set, bytearray, collections.deque)
_CONTAINER_MODULES = frozenset({"builtins", "collections"})  # dict, list, defaultdict, Counter, deque...


def _library(obj: Any) -> str:
    module = getattr(type(obj), "__module__", "") or ""
    return module.split(".", 1)[0]


def _text_writer(method: Any, name: str) -> Any:
    def write_text(*args: Any, **kwargs: Any) -> Any:
        destination = args[0] if args else next((kwargs[k] for k in _WRITER_DESTINATIONS if k in kwargs), None)
        if destination is not None:
            raise SandboxViolation(f"{name}() may not write to files or buffers in the sandbox; call it without a path")
        return method(*args, **kwargs)

    return write_text


def _refuse_name(obj: Any, name: str) -> None:
    """RestrictedPython's name rules, applied to dynamic ``getattr`` too."""
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    if name.startswith("_"):
        raise SandboxViolation(f'"{name}" is an invalid attribute name because it starts with "_"')
    if name in INSPECT_ATTRIBUTES:
        raise SandboxViolation(f'"{name}" is a restricted name that is forbidden to access in the sandbox')
    if name in ("format", "format_map") and (isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))):
        raise SandboxViolation("str.format is not allowed in the sandbox; use f-strings or % formatting")
    if isinstance(obj, string.Formatter) or (isinstance(obj, type) and issubclass(obj, string.Formatter)):
        raise SandboxViolation("string.Formatter is not allowed in the sandbox")
    if isinstance(obj, ModuleType):
        raise SandboxViolation("modules can only be used through import in the sandbox")


def _refuse_library_method(library: str, name: str) -> None:
    if library == "pandas" and name in PANDAS_DENIED_METHODS:
        raise SandboxViolation(f"pandas .{name} is not allowed in the sandbox (file, URL or string-evaluation access)")
    if library == "numpy" and name in NUMPY_DENIED_METHODS:
        raise SandboxViolation(f"numpy .{name} is not allowed in the sandbox (file or raw-memory access)")


def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """``_getattr_`` and the ``getattr`` builtin of sandboxed code."""
    _refuse_name(obj, name)
    library = (obj.__module__ or "").split(".", 1)[0] if isinstance(obj, type) else _library(obj)
    _refuse_library_method(library, name)
    try:
        value = getattr(obj, name)
    except AttributeError:
        if default is _MISSING:
            raise
        return default
    if isinstance(value, ModuleType):
        raise SandboxViolation(f"module attribute {name!r} is not available in the sandbox")
    if library == "pandas" and name in PANDAS_TEXT_WRITERS:
        return _text_writer(value, name)
    return value


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except (AttributeError, SandboxViolation):
        return False
    return True


def guarded_write(obj: Any) -> Any:
    """``_write_``: the object an assignment, augmented assignment or ``del`` may change."""
    if isinstance(obj, _WRITABLE_TYPES) and type(obj).__module__ in _CONTAINER_MODULES:
        return obj
    obj_type = obj if isinstance(obj, type) else type(obj)
    if getattr(obj_type, "__module__", None) == SANDBOX_MODULE_NAME:
        return obj
    if isinstance(obj, ModuleProxy | ModuleType):
        raise SandboxViolation("modules are read-only in the sandbox")
    if not isinstance(obj, type) and _library(obj) in ("pandas", "numpy"):
        return obj
    raise SandboxViolation(f"objects of type {obj_type.__name__} cannot be modified in the sandbox")


def guarded_setattr(obj: Any, name: str, value: Any) -> None:
    if type(name) is not str or name.startswith("_"):
        raise SandboxViolation(f"cannot set attribute {name!r} in the sandbox")
    setattr(guarded_write(obj), name, value)


def guarded_delattr(obj: Any, name: str) -> None:
    if type(name) is not str or name.startswith("_"):
        raise SandboxViolation(f"cannot delete attribute {name!r} in the sandbox")
    delattr(guarded_write(obj), name)


def guarded_getitem(obj: Any, index: Any) -> Any:
    if isinstance(obj, ModuleProxy | ModuleType):
        raise SandboxViolation("modules cannot be indexed in the sandbox")
    return obj[index]


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "^=": operator.ixor,
    "|=": operator.ior,
    "@=": operator.imatmul,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """``_inplacevar_``: augmented assignment to a name."""
    try:
        function = _INPLACE[op]
    except KeyError:
        raise SandboxViolation(f"operator {op} is not supported") from None
    return function(target, value)


def guarded_apply(function: Any, *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def sandbox_type(*args: Any) -> type:
    """``type(x)``; the three-argument form that builds classes is refused."""
    if len(args) != 1:
        raise SandboxViolation("type() takes exactly one argument in the sandbox; use a class statement")
    return type(args[0])

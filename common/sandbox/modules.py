"""Importable modules and the parts of them sandboxed code may not touch.

Modules reach user code only as :class:`ModuleProxy` objects: read-only, no
underscore names, no denied names, and no submodule unless it is allowed
itself (``pandas.io.common`` imports ``os``; a proxy never hands it out).
The denials cover file and URL I/O, pickles, string evaluation, ctypes and
process-wide settings that would leak from one run into the next.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from common.sandbox.errors import SandboxViolation

#: Top-level modules sandboxed code may import.
DEFAULT_ALLOWED_MODULES: frozenset[str] = frozenset(
    {
        "json",
        "math",
        "re",
        "datetime",
        "decimal",
        "statistics",
        "collections",
        "itertools",
        "functools",
        "random",
        "string",
        "pandas",
        "numpy",
    }
)

#: Submodules reachable as attributes or by ``import a.b``.
ALLOWED_SUBMODULES: frozenset[str] = frozenset(
    {
        "collections.abc",
        "numpy.random",
        "numpy.linalg",
        "numpy.fft",
        "pandas.api",
        "pandas.api.types",
        "pandas.tseries",
        "pandas.tseries.offsets",
    }
)

_PANDAS_DENIED = frozenset(
    {
        "eval",
        "ExcelFile",
        "ExcelWriter",
        "HDFStore",
        "to_pickle",
        "read_pickle",
        "set_option",
        "reset_option",
        "option_context",
        "options",
        "describe_option",
        "set_eng_float_format",
        "show_versions",
        "test",
        "io",
        "plotting",
        "testing",
    }
)

_NUMPY_DENIED = frozenset(
    {
        "load",
        "save",
        "savez",
        "savez_compressed",
        "loadtxt",
        "savetxt",
        "genfromtxt",
        "fromfile",
        "fromregex",
        "memmap",
        "DataSource",
        "ctypeslib",
        "lib",
        "f2py",
        "distutils",
        "testing",
        "show_config",
        "show_runtime",
        "test",
        "seterr",
        "seterrcall",
        "setbufsize",
        "set_printoptions",
        "printoptions",
    }
)

#: Names refused on a module, by module name.
DENIED_MODULE_ATTRIBUTES: dict[str, frozenset[str]] = {
    "pandas": _PANDAS_DENIED,
    "numpy": _NUMPY_DENIED,
    "string": frozenset({"Formatter"}),
    "random": frozenset({"SystemRandom"}),
}


def is_denied(module_name: str, attribute: str) -> bool:
    if module_name == "pandas" and attribute.startswith("read_"):
        return True
    return attribute in DENIED_MODULE_ATTRIBUTES.get(module_name, frozenset())


class ModuleProxy:
    """A read-only view of a module for sandboxed code."""

    __slots__ = ("_dataflow_module", "_dataflow_name", "_dataflow_resolve")

    def __init__(self, module: ModuleType | Any, name: str, resolve: Any) -> None:
        object.__setattr__(self, "_dataflow_module", module)
        object.__setattr__(self, "_dataflow_name", name)
        object.__setattr__(self, "_dataflow_resolve", resolve)

    def __getattr__(self, attribute: str) -> Any:
        name = object.__getattribute__(self, "_dataflow_name")
        if attribute.startswith("_"):
            raise AttributeError(f'"{attribute}" is an invalid attribute name because it starts with "_"')
        if is_denied(name, attribute):
            raise SandboxViolation(f"{name}.{attribute} is not available in the sandbox")
        module = object.__getattribute__(self, "_dataflow_module")
        value = getattr(module, attribute)
        if isinstance(value, ModuleType):
            return object.__getattribute__(self, "_dataflow_resolve")(value.__name__)
        return value

    def __setattr__(self, attribute: str, value: Any) -> None:
        raise SandboxViolation("modules are read-only in the sandbox")

    def __delattr__(self, attribute: str) -> None:
        raise SandboxViolation("modules are read-only in the sandbox")

    def __dir__(self) -> list[str]:
        module = object.__getattribute__(self, "_dataflow_module")
        name = object.__getattribute__(self, "_dataflow_name")
        return [attr for attr in dir(module) if not attr.startswith("_") and not is_denied(name, attr)]

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_dataflow_name')!r} (sandboxed)>"


class ModuleRegistry:
    """Resolves module names to proxies, once per process."""

    def __init__(self, allowed: frozenset[str], extra: dict[str, Any] | None = None) -> None:
        self.allowed = allowed
        self.extra = dict(extra or {})
        self._proxies: dict[str, ModuleProxy] = {}

    def is_allowed(self, name: str) -> bool:
        return name in self.extra or name in self.allowed or name in ALLOWED_SUBMODULES

    def resolve(self, name: str) -> ModuleProxy:
        if not self.is_allowed(name):
            raise SandboxViolation(f"module {name!r} is not available in the sandbox")
        proxy = self._proxies.get(name)
        if proxy is None:
            module = self.extra[name] if name in self.extra else importlib.import_module(name)
            proxy = ModuleProxy(module, name, self.resolve)
            self._proxies[name] = proxy
        return proxy

    def preload(self) -> None:
        """Import every allowed module now (workers do this once, before serving)."""
        for name in sorted(self.allowed | ALLOWED_SUBMODULES | set(self.extra)):
            self.resolve(name)

"""Process-level isolation of a sandbox worker, applied once before it serves.

In order: a private network namespace when the kernel allows it (no network
at all, not even loopback), then, when started as root, the switch to the
unprivileged ``nobody`` user, then rlimits: no new processes or threads, no
file writes, no core dumps, few open files. CPU time and address space are
limited per run (:func:`limit_run`), since each request brings its own.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import resource
import signal
import tempfile
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

OPEN_FILES_LIMIT = 64
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _unshare(flags: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.unshare(flags) == 0


def isolate() -> dict[str, Any]:
    """Apply the isolation this machine allows and enter an empty working directory.

    Returns what was applied.
    """
    applied: dict[str, Any] = {}
    if os.getuid() == 0:
        applied["network_namespace"] = _unshare(CLONE_NEWNET)
        nobody = pwd.getpwnam("nobody")
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
        applied["user"] = "nobody"
    else:
        applied["network_namespace"] = _unshare(CLONE_NEWUSER | CLONE_NEWNET)
        applied["user"] = pwd.getpwuid(os.getuid()).pw_name
    workdir = tempfile.mkdtemp(prefix="dataflow-sandbox-")  # before FSIZE=0, which stops tempfile's probe
    os.chdir(workdir)
    applied["workdir"] = workdir
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails instead of killing us
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))
    applied["rlimits"] = ["NPROC=0", "FSIZE=0", "CORE=0", f"NOFILE={OPEN_FILES_LIMIT}"]
    return applied


def _statm() -> list[str]:
    with open("/proc/self/statm") as statm:
        return statm.read().split()


def address_space_bytes() -> int:
    return int(_statm()[0]) * _PAGE_SIZE


def resident_mb() -> float:
    return round(int(_statm()[1]) * _PAGE_SIZE / (1024 * 1024), 1)


class limit_run:
    """CPU seconds and address space for one run, lifted again afterwards."""

    def __init__(self, *, cpu_s: float, memory_mb: int) -> None:
        self.cpu_s = cpu_s
        self.memory_mb = memory_mb

    def __enter__(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_used = usage.ru_utime + usage.ru_stime
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        # Two seconds of slack: the service's wall-clock timeout should fire first and say so.
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_used + self.cpu_s) + 2, cpu_hard))
        _, as_hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes() + self.memory_mb * 1024 * 1024, as_hard))

    def __exit__(self, *exc: object) -> None:
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_hard, cpu_hard))
        _, as_hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (as_hard, as_hard))

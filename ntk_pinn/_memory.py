"""Memory checks before dense O(n²) allocations: refuse with a clear error, never an
out-of-memory kill or a blank ``MemoryError``.

The limit is a fraction of the memory available now (``MemAvailable`` on Linux), or the
override: a ``memory_limit=`` argument where a function takes one, else the environment
variable ``NTK_PINN_MEMORY_LIMIT`` (bytes, or with a unit: ``"8G"``, ``"500M"``).
"""

from __future__ import annotations

import os

__all__ = ["available_memory", "memory_limit"]  # check_memory: ntk_pinn.internal

#: Share of the available memory one computation may plan to use (the rest is headroom
#: for intermediates the estimates leave out and for the rest of the process).
FRACTION = 0.8
_UNITS = {"": 1, "B": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def available_memory() -> int:
    """Bytes of memory available to this process now (``MemAvailable`` in
    ``/proc/meminfo``; elsewhere the free physical pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 ** 62  # unknown: do not refuse


def _parse(text: str) -> int:
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = raw[-1:] if raw[-1:] in _UNITS else ""
    try:
        value = float(raw[:len(raw) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"NTK_PINN_MEMORY_LIMIT={text!r} is not a size; write bytes or a "
                         "number with K, M, G or T, e.g. NTK_PINN_MEMORY_LIMIT=8G.") from None
    if value <= 0:
        raise ValueError(f"NTK_PINN_MEMORY_LIMIT={text!r} must be positive.")
    return int(value)


def memory_limit(override: int | None = None) -> int:
    """Bytes a computation may plan to allocate: ``override``, else
    ``NTK_PINN_MEMORY_LIMIT``, else ``FRACTION`` of :func:`available_memory`.

    Args:
      override: bytes, taken as they are when given.
    """
    if override is not None:
        if not isinstance(override, (int, float)) or override <= 0:
            raise ValueError(f"memory_limit must be a positive number of bytes, got "
                             f"{override!r}.")
        return int(override)
    env = os.environ.get("NTK_PINN_MEMORY_LIMIT")
    if env:
        return _parse(env)
    return int(FRACTION * available_memory())


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_memory(parts: dict, what: str, fix: str, *, limit: int | None = None) -> int:
    """Refuse (ValueError) when the arrays ``parts`` (``{description: (shape, itemsize)}``)
    would not fit in :func:`memory_limit`; return their total bytes.

    The message gives each shape and its bytes, the total, the memory available and the
    limit, and ``fix``."""
    sizes = {}
    for name, (shape, itemsize) in parts.items():
        count = 1
        for n in shape:
            count *= int(n)
        sizes[name] = (tuple(int(n) for n in shape), count * itemsize)
    total = sum(b for _, b in sizes.values())
    allowed = memory_limit(limit)
    if total > allowed:
        listed = "; ".join(f"{name} {shape}: {format_bytes(b)}"
                           for name, (shape, b) in sizes.items())
        raise ValueError(
            f"{what} needs {format_bytes(total)} ({listed}), but the memory limit is "
            f"{format_bytes(allowed)} ({format_bytes(available_memory())} available now). "
            f"{fix} To raise the limit: memory_limit=... or NTK_PINN_MEMORY_LIMIT (e.g. "
            "NTK_PINN_MEMORY_LIMIT=32G).")
    return total

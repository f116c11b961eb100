"""The memory budget: work that would need more memory than this is refused before it allocates,
with what it would have needed. Default: half the machine's RAM; NOISEKIT_MEMORY_BUDGET overrides it
("8G", "512M", "2T", a plain byte count, or "25%" of the RAM)."""
from __future__ import annotations

import math
import os

ENV = "NOISEKIT_MEMORY_BUDGET"
DEFAULT_FRACTION = 0.5
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class OverBudget(ValueError):
    """Work refused because it would need more memory than the budget."""


def ram_bytes() -> int:
    """Physical memory (8 GiB where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 8 * 2**30


def parse_size(text: str) -> int:
    """ "8G", "512M", "1.5T", "123456" or "25%" (of the RAM) -> bytes."""
    t = text.strip().upper()
    try:
        if t.endswith("%"):
            value = float(t[:-1]) / 100 * ram_bytes()
        else:
            t = t.removesuffix("IB").removesuffix("B")
            unit = t[-1:] if t[-1:] in ("K", "M", "G", "T") else ""
            value = float(t[:len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{ENV}={text!r}: give a size such as 8G, 512M or 25%")
    return int(value)


def budget() -> int:
    """The memory budget in bytes."""
    text = os.environ.get(ENV, "").strip()
    return parse_size(text) if text else int(DEFAULT_FRACTION * ram_bytes())


def human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if nbytes < 1024 or unit == "PB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024


def check_memory(what: str, nbytes: float):
    """Refuse ``what`` if it would need more than the budget; the message says how much it needed."""
    limit = budget()
    if nbytes > limit:
        raise OverBudget(f"{what} would need about {human(nbytes)} of memory, more than the budget of "
                         f"{human(limit)}; make it smaller, or raise the budget with {ENV} (e.g. {ENV}=64G)")


def tensor_bytes(*shape: int, itemsize: int = 4) -> int:
    """Bytes of a tensor of this shape (float32 by default)."""
    return math.prod(int(s) for s in shape) * itemsize

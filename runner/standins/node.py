"""What every stand-in shares: the STANDIN mark (reports say which stand-ins ran) and ComfyUI's limits."""
from __future__ import annotations

MAX_RESOLUTION = 16384


def standin(cls):
    """Mark a class as the runner's stand-in for the ComfyUI core node of the same name."""
    cls.STANDIN = True
    cls.DESCRIPTION = (cls.__doc__ or "").strip() + f" (noisekit runner stand-in for ComfyUI's {cls.__name__})"
    return cls

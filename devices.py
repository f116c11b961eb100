"""The device nodes put models and tensors on: set by the runner's --device
(inside ComfyUI, ComfyUI's model management decides)."""
from __future__ import annotations

import torch

_current = {"device": "cpu"}


def check_device(name: str) -> torch.device:
    """A usable torch device, or a ValueError saying why not."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch has no CUDA device here; use --device cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' requested but MPS is not available here; use --device cpu")
    if name not in ("cpu", "cuda", "mps") and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps")
    return torch.device(name)


def set_device(name: str):
    _current["device"] = str(check_device(name))


def get_device() -> torch.device:
    return torch.device(_current["device"])

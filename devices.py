"""The torch device noisekit's nodes put models and tensors on outside ComfyUI.

The runner's ``--device`` selects it (``use_device``); nodes ask ``get_device()``.
Inside ComfyUI, ComfyUI's model management decides instead.
"""
from __future__ import annotations

import contextlib
import os

import torch

_current = {"device": "cpu"}


def check_device(name: str) -> torch.device:
    """A usable torch device for ``name`` (cpu, cuda, cuda:N, mps), or a ValueError saying why not."""
    name = str(name)
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not (kind == "cuda" and index.isdigit())):
        raise ValueError(f"device {name!r}: unknown device; use cpu, cuda, cuda:N or mps")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: this torch build sees no CUDA device; use --device cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r}: MPS is not available here (it needs Apple silicon); use --device cpu")
    return torch.device(name)


def get_device() -> torch.device:
    return torch.device(_current["device"])


@contextlib.contextmanager
def use_device(name: str):
    """Make ``name`` the default device inside the block (checked first), then restore the previous one."""
    device = check_device(name)
    old, _current["device"] = _current["device"], str(device)
    try:
        yield device
    finally:
        _current["device"] = old


def device_class(name: str) -> str:
    """Which goldens a run on ``name`` is compared with: ``cpu``, ``cuda-<major>.<minor>`` (the compute capability:
    one GPU generation's kernels give one result), or ``mps``. ``NOISEKIT_DEVICE_CLASS`` overrides it
    (a CI without a GPU exercises the cross-device comparison with a class of its own)."""
    forced = os.environ.get("NOISEKIT_DEVICE_CLASS")
    if forced:
        return forced
    device = check_device(name)
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"cuda-{major}.{minor}"
    return device.type

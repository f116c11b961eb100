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


def native_bf16(device: torch.device) -> bool:
    """Whether this CPU has bf16 arithmetic (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    if device.type != "cpu":
        return False
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check()) or bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def device_class(name: str) -> str:
    """Which goldens a run on ``name`` is compared with: ``cpu`` (float32 kernels), ``cpu-bf16`` (a CPU with native
    bf16, where the photo pipelines run under bf16 autocast), ``cuda-<major>.<minor>`` (the compute capability:
    one GPU generation's kernels give one result), or ``mps``. ``NOISEKIT_DEVICE_CLASS`` overrides it
    (a CI without a GPU exercises the cross-device comparison with a class of its own)."""
    forced = os.environ.get("NOISEKIT_DEVICE_CLASS")
    if forced:
        return forced
    device = check_device(name)
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"cuda-{major}.{minor}"
    return "cpu-bf16" if native_bf16(device) else device.type

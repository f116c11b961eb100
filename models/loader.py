"""Load the bundled denoiser, or a user's .safetensors, as a core Denoiser.

A file is checked before any tensor is trusted: its header must describe
exactly the bytes on disk (a truncated download is refused), its metadata
must say it is a noisekit network with a known architecture, and its tensors
must match that architecture key for key and shape for shape.
"""
from __future__ import annotations

import json
import os
import struct

import torch

from .unet import UNet, UNetConfig
from .wrappers import EDMDenoiser

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
BUNDLED = {"noisekit-default": os.path.join(WEIGHTS_DIR, "noisekit-default.safetensors")}

# Key prefixes of formats that noisekit recognises but cannot map onto its UNet.
_FOREIGN = {
    "model.diffusion_model.": "a ComfyUI/CompVis (LDM) checkpoint",
    "down_blocks.": "a diffusers UNet",
    "input_blocks.": "an LDM/openai UNet state dict",
}


class WeightsError(ValueError):
    """A weights file that cannot be used, with its path and the reason."""

    def __init__(self, path: str, why: str):
        super().__init__(f"{path}: {why}")


def read_header(path: str) -> tuple[dict, dict]:
    """(tensor entries, metadata) of a safetensors file, refusing truncated or non-safetensors files."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise WeightsError(path, f"only {size} bytes: not a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise WeightsError(path, "header length exceeds the file size: truncated, or not a safetensors file")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WeightsError(path, "header is not JSON: not a safetensors file") from None
    meta = header.pop("__metadata__", None) or {}
    end = max((e["data_offsets"][1] for e in header.values()), default=0)
    if 8 + n + end != size:
        raise WeightsError(path, f"file has {size} bytes but its header describes {8 + n + end}: truncated or corrupted")
    return header, meta


def _identify_foreign(keys) -> str:
    for prefix, what in _FOREIGN.items():
        if any(k.startswith(prefix) for k in keys):
            return what
    return "an unknown architecture"


def save_model(model: EDMDenoiser, path: str, **extra_meta):
    """Write ``model`` as fp16 safetensors with its architecture in the metadata (atomically)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in model.net.state_dict().items()}
    meta = {"format": "noisekit-unet", "config": json.dumps(model.net.config.to_dict()),
            "sigma_data": str(model.sigma_data), "sigma_min": str(model.sigma_min), "sigma_max": str(model.sigma_max),
            **{k: str(v) for k, v in extra_meta.items()}}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def load_model(name_or_path: str = "noisekit-default", device: str | torch.device = "cpu") -> EDMDenoiser:
    """The bundled model by name ("noisekit-default"), or a noisekit .safetensors file by path."""
    path = BUNDLED.get(name_or_path, name_or_path)
    if not os.path.isfile(path):
        known = ", ".join(BUNDLED)
        raise FileNotFoundError(f"load_model: no model file {path!r}; give a .safetensors path or one of: {known}")
    header, meta = read_header(path)
    if meta.get("format") != "noisekit-unet":
        raise WeightsError(path, f"not a noisekit model (metadata format {meta.get('format')!r}); it looks like "
                                 f"{_identify_foreign(header)}, which noisekit cannot map onto its UNet")
    try:
        config = UNetConfig.from_dict(json.loads(meta["config"]))
        net = UNet(config)
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(path, f"its architecture config is unusable ({e})") from None
    expected = net.state_dict()
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        raise WeightsError(path, f"tensors do not match the architecture: missing {missing[:5]}"
                                 f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}")
    wrong = [k for k, v in expected.items() if list(v.shape) != header[k]["shape"]]
    if wrong:
        raise WeightsError(path, f"tensor shapes do not match the architecture: {wrong[:5]}")
    from safetensors.torch import load_file

    net.load_state_dict({k: v.float() for k, v in load_file(path).items()})
    model = EDMDenoiser(net, float(meta.get("sigma_data", 0.5)), float(meta.get("sigma_min", 0.002)),
                        float(meta.get("sigma_max", 80.0)))
    return model.eval().requires_grad_(False).to(device)

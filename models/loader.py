"""Load the bundled denoiser, or a user's .safetensors, as a core Denoiser.

A file is checked before any tensor is trusted: the safetensors library parses
its header, which must describe exactly the bytes on disk (a truncated download
is refused); its metadata must say it is a noisekit network whose architecture
config lies within bounds; its tensors must match that architecture key for key
and shape for shape (checked on the "meta" device, before anything is
allocated); and every weight must be finite.
"""
from __future__ import annotations

import json
import math
import os

import torch

from .. import limits
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
    """(tensor name -> {"dtype", "shape"}, metadata) of a safetensors file, parsed by the safetensors
    library (its header limits are well tested): a truncated, padded or malformed file is refused."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
            entries = {}
            for key in f.keys():
                view = f.get_slice(key)
                entries[key] = {"dtype": view.get_dtype(), "shape": list(view.get_shape())}
    except SafetensorError as e:
        why = str(e).removeprefix("Error while deserializing header: ")
        if "not fully covered" in why:
            raise WeightsError(path, "truncated or corrupted: its header does not describe exactly the bytes on "
                                     "disk") from None
        raise WeightsError(path, f"not a safetensors file, or a damaged one ({why})") from None
    return entries, meta


# What the UNet can be built from: a file describing more than these is refused before anything is built.
CONFIG_BOUNDS = {"channels": (1, 1024), "blocks": (1, 16), "emb_dim": (2, 4096), "in_channels": (1, 64),
                 "groups": (1, 1024)}
MAX_LEVELS, MAX_MULT = 8, 16


def check_config(path: str, raw) -> UNetConfig:
    """The architecture config in a file's metadata, checked against bounds before anything is built."""
    try:
        config = json.loads(raw) if isinstance(raw, str) else None
    except (json.JSONDecodeError, RecursionError):
        config = None
    if not isinstance(config, dict):
        raise WeightsError(path, f"its metadata 'config' is not a JSON object: {str(raw)[:80]!r}")
    expected = set(CONFIG_BOUNDS) | {"mults"}
    if set(config) != expected:
        raise WeightsError(path, f"its architecture config must have exactly the keys {sorted(expected)}, "
                                 f"got {sorted(config)}")
    for key, (lo, hi) in CONFIG_BOUNDS.items():
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise WeightsError(path, f"config {key} must be an integer in [{lo}, {hi}], got {value!r}")
    mults = config["mults"]
    if not isinstance(mults, list) or not 1 <= len(mults) <= MAX_LEVELS or any(
            isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= MAX_MULT for m in mults):
        raise WeightsError(path, f"config mults must be a list of 1 to {MAX_LEVELS} integers in [1, {MAX_MULT}], "
                                 f"got {mults!r}")
    if config["emb_dim"] % 2:
        raise WeightsError(path, f"config emb_dim must be even, got {config['emb_dim']}")
    if any(config["channels"] * m % config["groups"] for m in mults):
        raise WeightsError(path, f"config groups {config['groups']} must divide every level's width "
                                 f"{[config['channels'] * m for m in mults]}")
    return UNetConfig.from_dict(config)


def _sigma_range(path: str, meta: dict) -> tuple[float, float, float]:
    """(sigma_data, sigma_min, sigma_max) from the metadata: finite and 0 < sigma_min < sigma_max."""
    try:
        values = tuple(float(meta.get(k, d)) for k, d in (("sigma_data", 0.5), ("sigma_min", 0.002),
                                                           ("sigma_max", 80.0)))
    except ValueError as e:
        raise WeightsError(path, f"its sigma metadata is not a number ({e})") from None
    data, lo, hi = values
    if not all(math.isfinite(v) and v > 0 for v in values) or lo >= hi:
        raise WeightsError(path, f"its metadata needs sigma_data > 0 and 0 < sigma_min < sigma_max, got "
                                 f"sigma_data={data}, sigma_min={lo}, sigma_max={hi}")
    return values


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
    config = check_config(path, meta.get("config"))
    sigmas = _sigma_range(path, meta)
    with torch.device("meta"):  # shapes only: nothing is allocated until the file is known to fit
        net = UNet(config)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        raise WeightsError(path, f"tensors do not match the architecture: missing {missing[:5]}"
                                 f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}")
    wrong = [k for k, v in expected.items() if list(v.shape) != header[k]["shape"]]
    if wrong:
        raise WeightsError(path, f"tensor shapes do not match the architecture: {wrong[:5]}")
    not_float = sorted(k for k, e in header.items() if e["dtype"] not in ("F16", "BF16", "F32", "F64"))
    if not_float:
        raise WeightsError(path, f"tensors {not_float[:5]} are not floating point")
    limits.check_memory(f"loading {path}", sum(limits.tensor_bytes(*v.shape) for v in expected.values()))
    from safetensors.torch import load_file

    weights = {k: v.float() for k, v in load_file(path).items()}
    bad = sorted(k for k, v in weights.items() if not torch.isfinite(v).all())
    if bad:
        raise WeightsError(path, f"tensors {bad[:5]}{' ...' if len(bad) > 5 else ''} hold NaN or inf: the file "
                                 "is corrupted; download or export it again")
    net = net.to_empty(device="cpu")
    net.load_state_dict(weights)
    model = EDMDenoiser(net, *sigmas)
    return model.eval().requires_grad_(False).to(device)

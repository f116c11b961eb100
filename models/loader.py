"""Load the bundled denoiser, or a user's .safetensors, as a core Denoiser.

A file is checked before any tensor is trusted: the safetensors library parses
its header, which must describe exactly the bytes on disk (a truncated download
is refused); its metadata must say it is a noisekit network whose architecture
config lies within bounds; its tensors must match that architecture key for key
and shape for shape (checked on the "meta" device, before anything is
allocated); and every weight must be finite. A delta file (a fine-tune stored as int8
differences from a bundled model) passes the same checks, and its base is pinned by hash.
"""
from __future__ import annotations

import json
import math
import os

import torch

from .. import limits
from ..files import file_hash
from .unet import UNet, UNetConfig
from .wrappers import EDMDenoiser

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
# noisekit-default: trained on white noise (what a given --sigma means); noisekit-camera: fine-tuned on camera
# noise (training/degrade.py), stored as a delta from noisekit-default; what --sigma auto uses.
BUNDLED = {name: os.path.join(WEIGHTS_DIR, f"{name}.safetensors") for name in ("noisekit-default", "noisekit-camera")}

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

    limits.check_memory(f"loading {path}", os.path.getsize(path))  # safe_open maps the whole file
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
    except MemoryError:  # the mapping did not fit in this process's address space (ulimit -v)
        raise WeightsError(path, f"its {limits.human(os.path.getsize(path))} could not be mapped into memory: "
                                 "this process's address space is limited (ulimit -v); raise the limit") from None
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


def _unet_weights(path: str, header: dict, meta: dict) -> tuple[UNetConfig, tuple, dict]:
    """(config, sigmas, fp32 weights) of a checked noisekit-unet file whose header is ``header, meta``."""
    if meta.get("format") != "noisekit-unet":
        raise WeightsError(path, f"not a noisekit model (metadata format {meta.get('format')!r}); it looks like "
                                 f"{_identify_foreign(header)}, which noisekit cannot map onto its UNet")
    config = check_config(path, meta.get("config"))
    sigmas = _sigma_range(path, meta)
    expected = _architecture(config)
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        raise WeightsError(path, f"tensors do not match the architecture: missing {missing[:5]}"
                                 f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}")
    wrong = [k for k, shape in expected.items() if shape != header[k]["shape"]]
    if wrong:
        raise WeightsError(path, f"tensor shapes do not match the architecture: {wrong[:5]}")
    not_float = sorted(k for k, e in header.items() if e["dtype"] not in ("F16", "BF16", "F32", "F64"))
    if not_float:
        raise WeightsError(path, f"tensors {not_float[:5]} are not floating point")
    limits.check_memory(f"loading {path}", sum(limits.tensor_bytes(*shape) for shape in expected.values()))
    return config, sigmas, _finite(path, {k: v.float() for k, v in _load_file(path).items()})


def _architecture(config: UNetConfig) -> dict[str, list[int]]:
    """Tensor name -> shape of the UNet ``config`` describes (built on the "meta" device: nothing allocated)."""
    with torch.device("meta"):
        return {k: list(v.shape) for k, v in UNet(config).state_dict().items()}


def _load_file(path: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path)


def _finite(path: str, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    bad = sorted(k for k, v in weights.items() if not torch.isfinite(v).all())
    if bad:
        raise WeightsError(path, f"tensors {bad[:5]}{' ...' if len(bad) > 5 else ''} hold NaN or inf: the file "
                                 "is corrupted; download or export it again")
    return weights


# A delta file stores a fine-tune as int8 differences from a bundled base model, one scale per output
# channel (row): weight = base + scale * q with |q| <= 127, so each weight is within scale / 2 of the
# fine-tune's. Half the size of fp16 weights; the base is named and pinned by its SHA-256.
DELTA_FORMAT = "noisekit-delta"


def _rows(shape) -> int:
    """Output channels of a tensor: its first dimension (1 for a scalar)."""
    return shape[0] if len(shape) else 1


def save_delta(model: EDMDenoiser, base: str, path: str, **extra_meta):
    """Write ``model`` as an int8 per-output-channel delta from the bundled model ``base`` (atomically)."""
    from safetensors.torch import save_file

    if base not in BUNDLED:
        raise ValueError(f"save_delta: the base must be a bundled model ({', '.join(BUNDLED)}), got {base!r}")
    base_model = load_model(base)
    if base_model.net.config != model.net.config:
        raise ValueError(f"save_delta: the model's architecture {model.net.config} is not {base}'s "
                         f"{base_model.net.config}")
    tensors = {}
    base_weights = base_model.net.state_dict()
    for key, weight in model.net.state_dict().items():
        rows = _rows(weight.shape)
        delta = (weight.double() - base_weights[key].double()).reshape(rows, -1)
        scale = (delta.abs().amax(1) / 127).float()
        q = (delta / scale.double().clamp_min(1e-300)[:, None]).round().clamp(-127, 127)
        tensors[f"delta.{key}"] = q.to(torch.int8).reshape(weight.shape).contiguous()
        tensors[f"scale.{key}"] = scale.contiguous()
    meta = {"format": DELTA_FORMAT, "base": base, "base_sha256": file_hash(BUNDLED[base]),
            **{k: str(v) for k, v in extra_meta.items()}}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _delta_weights(path: str, header: dict, meta: dict) -> tuple[UNetConfig, tuple, dict]:
    """(config, sigmas, fp32 weights) of a checked delta file: its base checked as any model file, then
    base + scale * q, with every tensor's name, dtype and shape matching the base's."""
    base = meta.get("base")
    if base not in BUNDLED:
        raise WeightsError(path, f"its metadata 'base' must name a bundled model ({', '.join(BUNDLED)}), "
                                 f"got {base!r}")
    base_path = BUNDLED[base]
    if not os.path.isfile(base_path):
        raise WeightsError(path, f"its base model {base_path} is missing: reinstall noisekit")
    digest = file_hash(base_path)
    if digest != meta.get("base_sha256"):
        raise WeightsError(path, f"it stores differences from {base} with SHA-256 {meta.get('base_sha256')!r}, "
                                 f"but {base_path} has SHA-256 {digest!r}: the base file was changed or damaged. "
                                 f"Restore it (reinstall noisekit, or `git checkout` it), or export the delta again "
                                 f"against this base (python -m noisekit.training.export_delta)")
    config, sigmas, base_weights = _unet_weights(base_path, *read_header(base_path))
    expected = {f"delta.{k}": ("I8", list(v.shape)) for k, v in base_weights.items()}
    expected |= {f"scale.{k}": ("F32", [_rows(v.shape)]) for k, v in base_weights.items()}
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        raise WeightsError(path, f"tensors do not match its base {base}: missing {missing[:5]}"
                                 f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}")
    wrong = sorted(k for k, (dtype, shape) in expected.items() if [header[k]["dtype"], header[k]["shape"]]
                   != [dtype, shape])
    if wrong:
        raise WeightsError(path, f"tensors {wrong[:5]} do not have the dtype and shape of a delta from {base} "
                                 f"(int8 like the weight, one float32 scale per output channel)")
    stored = _load_file(path)
    bad = sorted(k for k, v in stored.items() if k.startswith("scale.") and not (torch.isfinite(v) & (v >= 0)).all())
    if bad:
        raise WeightsError(path, f"scales {bad[:5]} are negative, NaN or inf: the file is corrupted; download or "
                                 "export it again")
    weights = {}
    for key, weight in base_weights.items():
        rows = _rows(weight.shape)
        delta = stored[f"delta.{key}"].double().reshape(rows, -1) * stored[f"scale.{key}"].double()[:, None]
        weights[key] = (weight.double() + delta.reshape(weight.shape)).float()
    return config, sigmas, _finite(path, weights)


# What a model's sigma is when a photo's level is estimated ("auto"; photo/noise_level.py READINGS): the
# white-noise std, or the luma reading the camera fine-tune was conditioned on. Metadata "noise_reading".
NOISE_READINGS = ("white", "luma")


def noise_reading(path: str, meta: dict) -> str:
    reading = meta.get("noise_reading", "white")
    if reading not in NOISE_READINGS:
        raise WeightsError(path, f"its metadata 'noise_reading' must be one of {NOISE_READINGS}, got {reading!r}")
    return reading


def load_model(name_or_path: str = "noisekit-default", device: str | torch.device = "cpu") -> EDMDenoiser:
    """A bundled model by name (see BUNDLED), or a noisekit .safetensors file (weights or delta) by path."""
    path = BUNDLED.get(name_or_path, name_or_path)
    if not os.path.isfile(path):
        known = ", ".join(BUNDLED)
        raise FileNotFoundError(f"load_model: no model file {path!r}; give a .safetensors path or one of: {known}")
    header, meta = read_header(path)
    read = _delta_weights if meta.get("format") == DELTA_FORMAT else _unet_weights
    config, sigmas, weights = read(path, header, meta)
    with torch.device("meta"):
        net = UNet(config)
    net = net.to_empty(device="cpu")
    net.load_state_dict(weights)
    model = EDMDenoiser(net, *sigmas)
    model.noise_reading = noise_reading(path, meta)
    return model.eval().requires_grad_(False).to(device)

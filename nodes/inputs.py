"""From registry declarations to ComfyUI node inputs, and input checks that name the node and input."""
from __future__ import annotations

import functools

import torch

from ..photo.masks import check_mask as photo_check_mask
from ..registry import Param
from ..samplers import Sampler
from ..samplers.fit import FittedSolver
from ..schedules.tools import check_sigmas as check_sigma_values
from .adapter import comfy_sampler_function, noisekit_model

SEED = ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                "tooltip": "Random seed: the same seed gives the same noise on any device and batch size."})


def widget_spec(p: Param) -> tuple:
    """A ComfyUI input spec for a declared parameter."""
    opts = {"default": p.default, "tooltip": p.tooltip or p.name}
    if p.type in ("INT", "FLOAT"):
        opts.update({k: v for k, v in (("min", p.min), ("max", p.max), ("step", p.step)) if v is not None})
        if p.type == "FLOAT":
            opts["round"] = False  # the frontend would otherwise round 0.0292 to its step
        return (p.type, opts)
    if p.type == "COMBO":
        return (list(p.choices), opts)
    return (p.type, opts)


def camel(name: str) -> str:
    """snake_case registry name -> CamelCase node-name part."""
    return "".join(part.capitalize() for part in name.split("_"))


class NodeError(ValueError):
    """A bad input, named with the node and the input.

    ComfyUI reports an error's type as ``<module>.<class>``, and it imports this pack under its file
    path, so the type would read ``/.../custom_nodes/noisekit.nodes.inputs.NodeError``; the module is named
    for the pack instead (pickling goes through ``_node_error``, found by its real module path)."""

    __module__ = "noisekit"

    def __init__(self, node: str, input_name: str, message: str):
        self.node, self.input, self.message = node, input_name, message
        super().__init__(f"{node}: input '{input_name}': {message}")

    def __reduce__(self):
        return _node_error, (self.node, self.input, self.message)


def _node_error(node: str, input_name: str, message: str) -> NodeError:
    return NodeError(node, input_name, message)


def node_errors(fn):
    """Re-raise core ValueErrors/KeyErrors with the node's display name in front."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except NodeError:
            raise
        except (ValueError, KeyError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            raise ValueError(f"{type(self).DISPLAY}: {msg}") from e

    return wrapper


def comfy_sigmas(sigmas: torch.Tensor) -> torch.Tensor:
    """SIGMAS as ComfyUI makes them: float32 on the CPU (the core computes in float64)."""
    return sigmas.to(device="cpu", dtype=torch.float32)


def _shape(value) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def check_image(node: str, name: str, image) -> torch.Tensor:
    """An IMAGE [B,H,W,C] (C = 1, 3 or 4) with finite values -> [B,H,W,3] (alpha dropped, grey expanded)."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise NodeError(node, name, f"expected an IMAGE [batch, height, width, channels], got {_shape(image)}")
    if image.numel() == 0:
        raise NodeError(node, name, f"the image is empty {_shape(image)}")
    if not torch.isfinite(image).all():
        raise NodeError(node, name, "the image contains NaN or inf; check the node that made it")
    return image[..., :3] if image.shape[-1] == 4 else (image.expand(*image.shape[:-1], 3) if image.shape[-1] == 1 else image)


def check_latent(node: str, name: str, latent) -> torch.Tensor:
    """A LATENT dict's "samples" [B,C,H,W], finite."""
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, torch.Tensor) or samples.ndim != 4 or samples.numel() == 0:
        raise NodeError(node, name, "expected a LATENT {'samples': [batch, channels, height, width]}, got "
                                    f"{_shape(samples) if isinstance(latent, dict) else _shape(latent)}")
    if not torch.isfinite(samples).all():
        raise NodeError(node, name, "the latent contains NaN or inf; check the node that made it")
    return samples


def check_mask(node: str, name: str, mask, batch: int, size: tuple) -> torch.Tensor:
    """MASK [B,H,W], [H,W] or a LATENT noise_mask [B,1,H,W] of spatial ``size`` -> [batch,H,W] in [0,1]."""
    try:
        return photo_check_mask(mask, batch, size, owner="mask")
    except ValueError as e:
        raise NodeError(node, name, str(e).removeprefix("mask: ")) from None


def check_model(node: str, model, other: str = "use SamplerCustom with a noisekit SAMPLER and SIGMAS"):
    """noisekit's own model (a callable Denoiser with sigma_max; inside ComfyUI, the one Load Model
    (noisekit) hosts); ``other`` says what to do with any other checkpoint."""
    model = noisekit_model(model)
    if not callable(model) or not hasattr(model, "sigma_max"):
        raise NodeError(node, "model", f"expected a noisekit model (Load Model (noisekit)); for ComfyUI checkpoints "
                                       f"{other}")
    return model


def check_guider(node: str, guider):
    """A ComfyUI GUIDER (CFGGuider, BasicGuider, ...): what noisekit calls on one is ``sample`` and ``model_patcher``."""
    if not hasattr(guider, "sample") or not hasattr(guider, "model_patcher"):
        raise NodeError(node, "guider", f"expected a ComfyUI GUIDER, got {type(guider).__name__}")
    return guider


def check_sampler(node: str, sampler):
    """The sampler behind a SAMPLER value: the core Sampler (inside ComfyUI noisekit's KSAMPLERs carry it),
    or ComfyUI's own (KSamplerSelect) as a k-diffusion function."""
    if sampler is None:
        return None
    core = getattr(sampler, "noisekit_sampler", sampler)
    if isinstance(core, (Sampler, FittedSolver)):
        return core
    if callable(getattr(sampler, "sampler_function", None)):
        return comfy_sampler_function(sampler)
    raise NodeError(node, "sampler", f"expected a SAMPLER (a noisekit sampler node or KSamplerSelect), got "
                                     f"{type(sampler).__name__}")


def check_sigmas(node: str, name: str, sigmas, min_len: int = 1) -> torch.Tensor:
    """SIGMAS: a 1-D tensor of at least ``min_len`` finite, non-negative noise levels (in any order)."""
    try:
        sigmas = check_sigma_values(sigmas, node, name, order="any")
    except ValueError as e:
        raise NodeError(node, name, str(e).split(f"'{name}' ", 1)[-1]) from None
    if len(sigmas) < min_len:
        raise NodeError(node, name, f"needs at least {min_len} sigma(s), got {len(sigmas)}; "
                                    "check the schedule's steps or the split point")
    return sigmas

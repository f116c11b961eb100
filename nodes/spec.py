"""From registry declarations to ComfyUI node inputs; input checks that name the node and input;
the IMAGE <-> model-space mapping."""
from __future__ import annotations

import functools

import torch

from ..registry import Param

SEED = ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                "tooltip": "Random seed: the same seed gives the same noise on any device and batch size."})


def input_spec(p: Param) -> tuple:
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
    """A bad input, named with the node and the input."""

    def __init__(self, node: str, input_name: str, message: str):
        self.node, self.input = node, input_name
        super().__init__(f"{node}: input '{input_name}': {message}")


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


def image_to_model(image: torch.Tensor) -> torch.Tensor:
    """IMAGE [B,H,W,C] in [0,1] -> model space [B,C,H,W] in [-1,1]: x = 2 image - 1.
    Pixel-space models (the bundled one) are trained on [-1, 1]."""
    return image.movedim(-1, 1) * 2 - 1


def model_to_image(x: torch.Tensor) -> torch.Tensor:
    """Model space [B,C,H,W] -> IMAGE [B,H,W,3]: (x + 1) / 2 clipped to [0,1], the inverse of
    image_to_model. A state with other than 3 channels shows its first channel as grey
    (1 channel) or its first three channels (more)."""
    x = x[:, :3] if x.shape[1] >= 3 else x[:, :1].expand(-1, 3, *x.shape[2:])
    return ((x.movedim(1, -1) + 1) / 2).clamp(0, 1).float()


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


def check_mask_for(node: str, name: str, mask, batch: int, size: tuple) -> torch.Tensor:
    """MASK [B,H,W], [H,W] or a LATENT noise_mask [B,1,H,W] of spatial ``size`` -> [batch,1,H,W] in [0,1]."""
    if isinstance(mask, torch.Tensor) and mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        raise NodeError(node, name, f"expected a MASK [batch, height, width], got {_shape(mask)}")
    mask = mask if mask.ndim == 3 else mask[None]
    if tuple(mask.shape[-2:]) != tuple(size):
        raise NodeError(node, name, f"mask is {tuple(mask.shape[-2:])} (h, w) but the image is {tuple(size)}; "
                                    "scale the mask to the image size")
    if mask.shape[0] not in (1, batch):
        raise NodeError(node, name, f"{mask.shape[0]} masks for a batch of {batch}; give one mask or one per image")
    if not torch.isfinite(mask).all():
        raise NodeError(node, name, "the mask contains NaN or inf")
    return mask[:, None].float().clamp(0, 1).expand(batch, 1, *mask.shape[-2:])


def check_mask(node: str, name: str, mask, image: torch.Tensor) -> torch.Tensor:
    """MASK [B,H,W] or [H,W] matching an IMAGE's size -> [B,1,H,W] in [0,1]."""
    return check_mask_for(node, name, mask, image.shape[0], image.shape[1:3])


def check_sigmas(node: str, name: str, sigmas, min_len: int = 1) -> torch.Tensor:
    """SIGMAS: a 1-D tensor of at least ``min_len`` finite, non-negative noise levels."""
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1:
        raise NodeError(node, name, f"expected SIGMAS (a 1-D tensor of noise levels), got {_shape(sigmas)}")
    if len(sigmas) < min_len:
        raise NodeError(node, name, f"needs at least {min_len} sigma(s), got {len(sigmas)}; "
                                    "check the schedule's steps or the split point")
    if not torch.isfinite(sigmas).all() or (sigmas < 0).any():
        raise NodeError(node, name, f"noise levels must be finite and >= 0, got {sigmas.tolist()}")
    return sigmas

"""From registry declarations to ComfyUI node inputs, and node-level errors."""
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
    """IMAGE [B,H,W,C] in [0,1] -> model space [B,C,H,W] in [-1,1]."""
    return image.movedim(-1, 1) * 2 - 1


def model_to_image(x: torch.Tensor) -> torch.Tensor:
    """Model space [B,C,H,W] in [-1,1] -> IMAGE [B,H,W,C] clamped to [0,1]."""
    return ((x.movedim(1, -1) + 1) / 2).clamp(0, 1).float()


def check_image(node: str, name: str, image) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise NodeError(node, name, f"expected an IMAGE [batch, height, width, channels], got "
                                    f"{getattr(image, 'shape', type(image).__name__)}")
    return image[..., :3] if image.shape[-1] == 4 else (image.expand(*image.shape[:-1], 3) if image.shape[-1] == 1 else image)


def check_mask(node: str, name: str, mask, image: torch.Tensor) -> torch.Tensor:
    """MASK [B,H,W] or [H,W] matching the image size -> [B,1,H,W] in [0,1]."""
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        raise NodeError(node, name, f"expected a MASK [batch, height, width], got {getattr(mask, 'shape', mask)}")
    mask = mask if mask.ndim == 3 else mask[None]
    if mask.shape[-2:] != image.shape[1:3]:
        raise NodeError(node, name, f"mask is {tuple(mask.shape[-2:])} but the image is {tuple(image.shape[1:3])}; "
                                    "scale the mask to the image size")
    return mask[:, None].clamp(0, 1).expand(image.shape[0], 1, *mask.shape[-2:])

"""Custom Sigmas: a schedule typed or drawn by hand.

The widget value is a plain list of numbers ("14.6, 7.2, ..., 0"), so a graph
runs the same in ComfyUI without the web extension and in ``noisekit run``; the
extension draws it as a curve whose points can be dragged.
"""
from __future__ import annotations

import math

import torch

from ..schedules import SIGMA_MAX, STEPS
from .spec import NodeError, comfy_sigmas, node_errors

# A schedule no model could mean is refused: more sigmas than a schedule node makes (steps + 1), or a
# sigma above the largest sigma_max a schedule node takes (1e30 would give a uniform grey picture).
MAX_SIGMAS, MAX_SIGMA = int(STEPS.max) + 1, float(SIGMA_MAX.max)
DEFAULT = "14.6146, 6.4746, 3.8637, 2.6946, 1.8842, 1.3944, 0.9643, 0.6524, 0.3977, 0.1515, 0"


def parse_sigmas(node: str, text: str) -> torch.Tensor:
    """Comma/space separated numbers -> a descending, finite, non-negative float64 tensor."""
    parts = [p for p in text.replace(",", " ").replace("[", " ").replace("]", " ").split() if p]
    if len(parts) > MAX_SIGMAS:
        raise NodeError(node, "sigmas", f"{len(parts)} sigmas; at most {MAX_SIGMAS} (a {MAX_SIGMAS - 1}-step "
                                        "schedule), as the schedule nodes make")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise NodeError(node, "sigmas", f"not a list of numbers: {text!r}") from None
    if len(values) < 2:
        raise NodeError(node, "sigmas", "give at least two sigmas (one step), e.g. '14.6, 0'")
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise NodeError(node, "sigmas", "sigmas must be finite and non-negative")
    if max(values) > MAX_SIGMA:
        raise NodeError(node, "sigmas", f"sigma {max(values):g} is above {MAX_SIGMA:g}, the largest sigma_max of "
                                        "any schedule: no model means such a noise level")
    if any(b > a for a, b in zip(values, values[1:])):
        raise NodeError(node, "sigmas", "sigmas must be descending (noisy to clean)")
    return torch.tensor(values, dtype=torch.float64)


class CustomSigmas:
    DISPLAY = "Custom Sigmas (noisekit)"
    RETURN_TYPES = ("SIGMAS",)
    RETURN_NAMES = ("sigmas",)
    OUTPUT_TOOLTIPS = ("The schedule as written in the widget.",)
    FUNCTION = "make"
    CATEGORY = "noisekit/schedules"
    DESCRIPTION = ("A hand-made schedule: type the sigmas, or drag the points of the curve drawn on the node. "
                   "Connect a SIGMAS input to start from it (it replaces the list).")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sigmas": ("STRING", {"default": DEFAULT, "multiline": True,
                                                   "tooltip": "Descending noise levels separated by commas."})},
                "optional": {"start": ("SIGMAS", {"tooltip": "Use these sigmas instead of the typed list."})}}

    @node_errors
    def make(self, sigmas, start=None):
        if start is not None:
            return (comfy_sigmas(start),)
        return (comfy_sigmas(parse_sigmas(self.DISPLAY, sigmas)),)


NODE_CLASS_MAPPINGS = {"NoisekitCustomSigmas": CustomSigmas}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

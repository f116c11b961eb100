"""Custom Sigmas: a schedule typed or drawn by hand.

The widget value is a plain list of numbers ("14.6, 7.2, ..., 0"), so a graph
runs the same in ComfyUI without the web extension and in ``noisekit run``; the
extension draws it as a curve whose points can be dragged.
"""
from __future__ import annotations

from ..schedules import SIGMA_MAX, STEPS
from ..schedules.tools import check_sigmas, parse_sigmas
from .inputs import NodeError, comfy_sigmas, node_errors

# A schedule no model could mean is refused: more sigmas than a schedule node makes (steps + 1), or a
# sigma above the largest sigma_max a schedule node takes (1e30 would give a uniform grey picture).
MAX_SIGMAS, MAX_SIGMA = int(STEPS.max) + 1, float(SIGMA_MAX.max)

DEFAULT = "14.6146, 6.4746, 3.8637, 2.6946, 1.8842, 1.3944, 0.9643, 0.6524, 0.3977, 0.1515, 0"


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
        try:
            values = check_sigmas(parse_sigmas(sigmas, self.DISPLAY), self.DISPLAY)
        except ValueError as e:
            raise NodeError(self.DISPLAY, "sigmas", str(e).split(": ", 2)[-1]) from None
        if len(values) < 2:
            raise NodeError(self.DISPLAY, "sigmas", "give at least two sigmas (one step), e.g. '14.6, 0'")
        if len(values) > MAX_SIGMAS:
            raise NodeError(self.DISPLAY, "sigmas", f"{len(values)} sigmas; at most {MAX_SIGMAS} (a "
                                                    f"{MAX_SIGMAS - 1}-step schedule), as the schedule nodes make")
        if float(values[0]) > MAX_SIGMA:
            raise NodeError(self.DISPLAY, "sigmas", f"sigma {float(values[0]):g} is above {MAX_SIGMA:g}, the largest "
                                                    "sigma_max of any schedule: no model means such a noise level")
        return (comfy_sigmas(values),)


NODE_CLASS_MAPPINGS = {"NoisekitCustomSigmas": CustomSigmas}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

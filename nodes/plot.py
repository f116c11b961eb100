"""Sigma plot: log sigma against step for up to four schedules, drawn with PIL."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .spec import NodeError, node_errors

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
MARGIN = (70, 24, 30, 50)  # left, top, right, bottom


def _ticks(lo: float, hi: float):
    """Powers of ten (and 2, 5 between them when the range is short) inside [lo, hi]."""
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in ((1,) if math.log10(hi / lo) > 3 else (1, 2, 5)):
            v = m * 10.0**e
            if lo <= v <= hi:
                out.append(v)
    return out


def plot_sigmas(series: list[tuple[str, torch.Tensor]], width: int = 768, height: int = 432) -> Image.Image:
    """log10(sigma) vs step index, one coloured line with markers per schedule, with a legend.
    Zero sigmas (the final clean step) are drawn on the bottom edge."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    left, top, right, bottom = MARGIN[0], MARGIN[1], width - MARGIN[2], height - MARGIN[3]
    positive = torch.cat([s[s > 0] for _, s in series]).double()
    lo, hi = float(positive.min()), float(positive.max())
    if hi / lo < 10:
        lo, hi = lo / 2, hi * 2
    steps = max(len(s) for _, s in series) - 1
    x_of = lambda i: left + (right - left) * i / max(steps, 1)
    y_of = lambda v: bottom if v <= 0 else bottom - (bottom - top) * (math.log10(v) - math.log10(lo)) / (
        math.log10(hi) - math.log10(lo))
    draw.rectangle([left, top, right, bottom], outline="black")
    for v in _ticks(lo, hi):
        y = y_of(v)
        draw.line([left, y, right, y], fill=(225, 225, 225))
        draw.text((left - 6, y), f"{v:g}", fill="black", anchor="rm", font=font)
    for i in sorted({round(k * steps / 10) for k in range(11)}):
        draw.text((x_of(i), bottom + 6), str(i), fill="black", anchor="mt", font=font)
    draw.text(((left + right) / 2, height - 14), "step", fill="black", anchor="mm", font=font)
    draw.text((left, top - 4), "sigma (log scale)", fill="black", anchor="lb", font=font)
    for k, (name, s) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = [(x_of(i), y_of(float(v))) for i, v in enumerate(s)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        ly = top + 10 + 16 * k
        draw.line([right - 150, ly, right - 125, ly], fill=colour, width=3)
        draw.text((right - 120, ly), f"{name} ({len(s) - 1} steps)", fill="black", anchor="lm", font=font)
    return img


class SigmaPlot:
    DISPLAY = "Sigma Plot (noisekit)"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("plot",)
    OUTPUT_TOOLTIPS = ("The chart as an IMAGE (connect Preview Image or Save Image).",)
    FUNCTION = "plot"
    CATEGORY = "noisekit/sigmas"
    DESCRIPTION = "Draws up to four schedules as log sigma against step, with markers and a legend."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sigmas_1": ("SIGMAS", {"tooltip": "First schedule."}),
                             "width": ("INT", {"default": 768, "min": 256, "max": 4096, "step": 8, "tooltip": "Width."}),
                             "height": ("INT", {"default": 432, "min": 160, "max": 4096, "step": 8, "tooltip": "Height."})},
                "optional": {f"sigmas_{k}": ("SIGMAS", {"tooltip": f"Schedule {k}."}) for k in (2, 3, 4)}}

    @node_errors
    def plot(self, sigmas_1, width=768, height=432, **more):
        series = [(name, s) for name, s in [("sigmas_1", sigmas_1)] + sorted(more.items()) if s is not None]
        for name, s in series:
            if s.ndim != 1 or len(s) == 0 or not torch.isfinite(s).all() or not (s > 0).any():
                raise NodeError(self.DISPLAY, name, "needs a non-empty, finite schedule with a positive sigma")
        img = plot_sigmas(series, width, height)
        return (torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None],)


NODE_CLASS_MAPPINGS = {"NoisekitSigmaPlot": SigmaPlot}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

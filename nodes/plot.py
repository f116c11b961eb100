"""Sigma plot: up to four schedules against step on a log sigma, sigma or flow-t axis, drawn with PIL (no
matplotlib); the same axis gives the live curve on the node its heights and ticks (server.plot_curve)."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .inputs import NodeError, check_sigmas, node_errors

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
MARGIN = (70, 28, 24, 52)  # left, top, right, bottom
ZERO_BAND = 18  # pixels between the lowest positive sigma and the "0" line at the bottom


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


AXES = ("log sigma", "sigma", "flow t")


def _log_ticks(lo: float, hi: float):
    """Powers of ten (and 2, 5 between them when the range is short) inside [lo, hi]."""
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in ((1,) if math.log10(hi / lo) > 3 else (1, 2, 5)):
            v = m * 10.0**e
            if lo <= v <= hi:
                out.append(v)
    return out


def _linear_ticks(hi: float):
    """0 and about five round steps (1, 2 or 5 times a power of ten) up to hi."""
    step = min(m * 10.0 ** math.floor(math.log10(hi / 5)) for m in (1, 2, 5, 10)
               if m * 10.0 ** math.floor(math.log10(hi / 5)) >= hi / 6)
    return [k * step for k in range(int(hi / step + 1e-9) + 1)]


def flow_t(sigmas: torch.Tensor) -> torch.Tensor:
    """A schedule as a flow model's time t: sigma / (1 + sigma), the t whose noise-to-signal ratio t / (1 - t)
    is sigma. A schedule already inside [0, 1] is taken to be a flow model's own (its sigma is t)."""
    return sigmas if float(sigmas.max()) <= 1.0 else sigmas / (1 + sigmas)


class Axis:
    """The y axis of a sigma plot: heights as fractions of the plot area, 0 at the bottom. On the log axis a
    sigma of 0 has no height (None): it is drawn on a "0" line of its own below the area."""

    def __init__(self, name: str, series: list[torch.Tensor]):
        if name not in AXES:
            raise ValueError(f"axis must be one of {list(AXES)}, got {name!r}")
        self.name, self.log = name, name == "log sigma"
        values = torch.cat([self.values(s) for s in series]).double()
        if self.log:
            if not (values > 0).any():
                raise ValueError("no positive sigma to draw on a log scale; choose the axis sigma")
            lo, hi = float(values[values > 0].min()), float(values.max())
            self.lo, self.hi = (lo / 2, hi * 2) if hi / lo < 10 else (lo, hi)
        else:  # flow t ends at pure noise, 1
            self.lo, self.hi = 0.0, 1.0 if name == "flow t" or not float(values.max()) > 0 else float(values.max())

    def values(self, sigmas: torch.Tensor) -> torch.Tensor:
        return flow_t(sigmas.double()) if self.name == "flow t" else sigmas.double()

    def fraction(self, v: float):
        if self.log:
            return None if v <= 0 else (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return (v - self.lo) / (self.hi - self.lo)

    def heights(self, sigmas: torch.Tensor) -> list:
        return [self.fraction(float(v)) for v in self.values(sigmas)]

    def ticks(self) -> list[tuple[float, str]]:
        """(value, label) pairs, the "0" line first."""
        return [(v, f"{v:g}") for v in ([0.0] + _log_ticks(self.lo, self.hi) if self.log else _linear_ticks(self.hi))]

    def label(self) -> str:
        return {"log sigma": "sigma (log scale)", "sigma": "sigma", "flow t": "flow t = sigma / (1 + sigma)"}[self.name]


def plot_sigmas(series: list[tuple[str, torch.Tensor]], width: int = 768, height: int = 432,
                axis: str = "log sigma") -> Image.Image:
    """The schedules against step index on ``axis`` (AXES), one coloured line with markers per schedule, and a
    legend. On the log axis zero sigmas (the final clean step) sit on a separate "0" line at the bottom."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = _font(max(10, min(width, height) // 32))
    left, top, right, bottom = MARGIN[0], MARGIN[1], width - MARGIN[2], height - MARGIN[3]
    scale = Axis(axis, [s for _, s in series])
    band = ZERO_BAND if scale.log else 0
    steps = max(len(s) for _, s in series) - 1
    x_of = lambda i: left + (right - left) * i / max(steps, 1)
    y_of = lambda f: bottom if f is None else bottom - band - (bottom - band - top) * f
    draw.rectangle([left, top, right, bottom], outline="black")
    gap, last = getattr(font, "size", 11) + 2, math.inf  # skip labels that would overlap the one below
    for v, text in scale.ticks():
        y = y_of(scale.fraction(v))
        draw.line([left, y, right, y], fill=(225, 225, 225))
        if last - y >= gap:
            draw.line([left - 4, y, left, y], fill="black")
            draw.text((left - 7, y), text, fill="black", anchor="rm", font=font)
            last = y
    for i in sorted({round(k * steps / 10) for k in range(11)}):
        draw.line([x_of(i), bottom, x_of(i), bottom + 4], fill="black")
        draw.text((x_of(i), bottom + 7), str(i), fill="black", anchor="mt", font=font)
    draw.text(((left + right) / 2, height - 6), "step", fill="black", anchor="mb", font=font)
    draw.text((left, top - 6), scale.label(), fill="black", anchor="lb", font=font)
    for k, (_, s) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = [(x_of(i), y_of(f)) for i, f in enumerate(scale.heights(s))]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    drawn = [p for _, s in series for p in [(x_of(i), y_of(f)) for i, f in enumerate(scale.heights(s))]]
    _legend(draw, font, [(f"{name} ({len(s) - 1} steps)", COLOURS[k % len(COLOURS)]) for k, (name, s) in
                         enumerate(series)], (left, top, right, bottom), drawn)
    return img


def _legend(draw, font, items, area, points):
    """Labelled colour swatches in a white box, in the corner of the plot area that hides fewest points
    (top right when that ties)."""
    left, top, right, bottom = area
    line = font.size + 6 if hasattr(font, "size") else 16
    w, h = max(draw.textlength(label, font=font) for label, _ in items) + 42, line * len(items) + 6
    corners = [(right - 6 - w, top + 6), (left + 6, bottom - 6 - h), (left + 6, top + 6), (right - 6 - w, bottom - 6 - h)]
    hidden = lambda c: sum(c[0] - 4 <= x <= c[0] + w + 4 and c[1] - 4 <= y <= c[1] + h + 4 for x, y in points)
    x0, y0 = min(corners, key=hidden)
    draw.rectangle([x0, y0, x0 + w, y0 + h], fill="white", outline=(180, 180, 180))
    for k, (label, colour) in enumerate(items):
        y = y0 + 3 + line * k + line / 2
        draw.line([x0 + 6, y, x0 + 30, y], fill=colour, width=3)
        draw.text((x0 + 36, y), label, fill="black", anchor="lm", font=font)


def image_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB -> IMAGE [1,H,W,3] float32 in [0,1]."""
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)[None]


class SigmaPlot:
    DISPLAY = "Sigma Plot (noisekit)"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("plot",)
    OUTPUT_TOOLTIPS = ("The chart as an IMAGE (connect Preview Image or Save Image).",)
    FUNCTION = "plot"
    CATEGORY = "noisekit/sigmas"
    DESCRIPTION = ("Draws up to four schedules against step, with markers, axes and a legend, so schedules can be "
                   "compared by eye: on log sigma (the default), sigma, or flow t (to set a flow model's schedule "
                   "beside an SD one). The node shows the overlay live as you wire it; the image is the same chart.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sigmas_1": ("SIGMAS", {"tooltip": "First schedule."}),
                             "width": ("INT", {"default": 768, "min": 256, "max": 4096, "step": 8,
                                               "tooltip": "Image width in pixels."}),
                             "height": ("INT", {"default": 432, "min": 160, "max": 4096, "step": 8,
                                                "tooltip": "Image height in pixels."})},
                "optional": {**{f"sigmas_{k}": ("SIGMAS", {"tooltip": f"Schedule {k} (optional)."}) for k in (2, 3, 4)},
                             "labels": ("STRING", {"default": "", "tooltip": "Legend names, comma-separated in "
                                                   "input order (empty: the titles of the nodes that make the "
                                                   "schedules)."}),
                             "axis": (list(AXES), {"default": "log sigma", "tooltip":
                                      "The y axis: log sigma (every noise level visible), sigma (linear), or flow t "
                                      "= sigma / (1 + sigma), the time of a flow model (SD3, Flux) at the same "
                                      "noise; a schedule already inside [0, 1] is drawn as a flow model's own t."})},
                "hidden": {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"}}

    @node_errors
    def plot(self, sigmas_1, width=768, height=432, sigmas_2=None, sigmas_3=None, sigmas_4=None, labels="",
             axis="log sigma", prompt=None, unique_id=None):
        given = [(f"sigmas_{k}", s) for k, s in enumerate((sigmas_1, sigmas_2, sigmas_3, sigmas_4), 1) if s is not None]
        names = [n.strip() for n in labels.split(",")] if labels.strip() else []
        series = []
        for k, (name, s) in enumerate(given):
            check_sigmas(self.DISPLAY, name, s)
            if axis == "log sigma" and not (s > 0).any():
                raise NodeError(self.DISPLAY, name, "has no positive sigma to draw on a log scale; choose the "
                                "axis sigma")
            if axis not in AXES:
                raise NodeError(self.DISPLAY, "axis", f"must be one of {list(AXES)}, got {axis!r}")
            label = names[k] if k < len(names) and names[k] else upstream_title(prompt, unique_id, name)
            series.append((label, s.detach().cpu()))
        return (image_tensor(plot_sigmas(series, width, height, axis)),)


def upstream_title(prompt, node_id, name: str) -> str:
    """The title of the node whose output feeds input ``name`` of ``node_id`` in an API prompt (as ComfyUI
    and the runner pass it; " (noisekit)" dropped), or ``name`` when the prompt does not say."""
    link = ((prompt or {}).get(str(node_id)) or {}).get("inputs", {}).get(name)
    if not (isinstance(link, list) and len(link) == 2):
        return name
    source = prompt.get(str(link[0])) or {}
    title = (source.get("_meta") or {}).get("title")
    return title.removesuffix(" (noisekit)") if title and title != source.get("class_type") else name


NODE_CLASS_MAPPINGS = {"NoisekitSigmaPlot": SigmaPlot}
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

"""The noise level a photo is denoised at, one policy for every caller (the commands, denoise_photo, the
nodes' pixel and latent routes): a given level as it is, or "auto": the photo's estimate (photo/estimate.py),
floored at NOISE_FLOOR and flagged when implausible; times the user's strength; then in model space, inside the
model's range."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.space import photo_to_model_sigma
from .estimate import estimate_sigma, luma_reading

NOISE_FLOOR = 0.5 / 255  # what a photo with no measurable noise is denoised at (8-bit rounding is 0.29/255)
# Estimates outside this range (0..255 scale) are seldom right for a photo: the top is above the 99th percentile
# of what auto reads on the camera fine-tune's samples (training/pipelines.py's family; README, "Camera pipelines").
PLAUSIBLE = (1.0, 95.0)


def check_sigma(sigma) -> None:
    """``sigma``: "auto" or the noise std on the [0, 1] scale (NOISE_LEVEL's bound is the node's and the
    commands': an estimate may exceed it)."""
    if sigma == "auto":
        return
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 < sigma < 1:
        hint = f" (that looks like the 0..255 scale: pass {sigma}/255)" if isinstance(sigma, (int, float)) and \
            1 <= sigma <= 255 else ""
        raise ValueError(f"denoise: sigma must be 'auto' or the noise std on the [0, 1] scale, in (0, 1), "
                         f"got {sigma!r}{hint}")


@dataclass(frozen=True)
class NoiseLevel:
    """A photo's noise std on the [0, 1] scale, whether it was estimated, and the strength the user asked for
    (the model removes noise of std sigma * strength)."""

    sigma: float
    estimated: bool = False
    strength: float = 1.0

    @property
    def implausible(self) -> str | None:
        """For an estimate outside PLAUSIBLE: "low" (nearly noise-free, or nothing measurable) or "high"."""
        low, high = PLAUSIBLE
        if not self.estimated:
            return None
        return "low" if self.sigma * 255 < low else "high" if self.sigma * 255 > high else None

    def in_model(self, model) -> float:
        """The level in the model's space, raised to its sigma_min; above its sigma_max is refused."""
        sigma = max(photo_to_model_sigma(self.sigma * self.strength), model.sigma_min)
        if sigma > model.sigma_max:
            strength = f" x strength {self.strength:g}" if self.strength != 1 else ""
            raise ValueError(f"denoise: noise std {self.sigma:.4f}{strength} (model sigma {sigma:.3f}) exceeds the "
                             f"model's sigma_max {model.sigma_max}")
        return sigma


# What "auto" reads, by what a model's sigma means for a photo (its noise_reading, models/loader.py): the
# white-noise std, or the luma reading the camera model was conditioned on (photo/estimate.py).
READINGS = {"white": estimate_sigma, "luma": luma_reading}


def reading_of(model) -> str:
    """The reading a model was conditioned on ("white" for any model that does not say)."""
    return getattr(model, "noise_reading", "white")


def noise_level(photo: torch.Tensor, sigma: float | str = "auto", strength: float = 1.0,
                reading: str = "white") -> NoiseLevel:
    """The level to denoise PHOTO [H,W,C] at: ``sigma`` (checked by check_sigma) as given, or for "auto" the
    photo's ``reading`` (READINGS), at least NOISE_FLOOR (also when it is NaN: nothing measurable)."""
    if sigma != "auto":
        return NoiseLevel(float(sigma), strength=strength)
    estimate = READINGS[reading](photo)
    return NoiseLevel(estimate if estimate > NOISE_FLOOR else NOISE_FLOOR, estimated=True, strength=strength)

"""The photo commands' work on one file, as ``noisekit denoise`` / ``inpaint`` run it on a photo and the
folder runner (photo/folder.py) on each photo of a folder: read, denoise or inpaint, write."""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from .. import progress
from .denoise import DenoiseOptions, denoise_photo
from .files import read_mask, read_photo, write_photo
from .inpaint import InpaintOptions, inpaint
from .noise_level import PLAUSIBLE, NoiseLevel, noise_level, reading_of


def model_for(sigma, model: str | None = None) -> str:
    """``--model`` when given; else the camera-noise model for ``--sigma auto`` (real photos) and the
    white-noise model for a given ``--sigma N`` (which means white noise of std N)."""
    return model or ("noisekit-camera" if sigma == "auto" else "noisekit-default")


@dataclass(frozen=True)
class DenoisedPhoto:
    """A photo file being denoised: its path, its size and the noise level it is denoised at."""

    source: str
    width: int
    height: int
    level: NoiseLevel

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def summary(self) -> str:
        how = "estimated" if self.level.estimated else "given"
        strength = f", strength {self.level.strength:g}" if self.level.strength != 1 else ""
        return (f"{self.source}: {self.width}x{self.height} ({self.megapixels:.2f} MP), noise level "
                f"{self.level.sigma * 255:.1f}/255 ({how}){strength}")

    def warning(self) -> str | None:
        """Why the estimated level looks wrong, and what to do; None when it looks right."""
        if self.level.implausible == "low":
            return (f"the photo looks nearly noise-free (estimate below {PLAUSIBLE[0]:g}/255): the result will be "
                    f"close to the input; if you see noise, give its level with --sigma")
        if self.level.implausible == "high":
            return (f"the estimate {self.level.sigma * 255:.1f}/255 is above what the cameras noisekit was trained on "
                    f"read (or texture or strong JPEG blocks read as noise): if the result is too smooth, lower "
                    f"--strength (e.g. 0.7); if grain is left, raise it (e.g. 1.5)")
        return None


def warn_implausible(photo: DenoisedPhoto) -> None:
    """An implausible estimate's warning, on stderr (from a folder's workers too)."""
    warning = photo.warning()
    if warning:
        print(f"noisekit denoise: {photo.source}: warning: {warning}", file=sys.stderr)


def denoise_file(model, options: DenoiseOptions, source: str, target: str,
                 starting=warn_implausible) -> DenoisedPhoto:
    """Denoise the photo ``source`` into the new file ``target``; ``starting(photo)`` is called once its
    noise level is known, before the work."""
    image, photo_file = read_photo(source)
    h, w = image.shape[1:3]
    photo = DenoisedPhoto(source, w, h, noise_level(image[0], options.sigma, options.strength, reading_of(model)))
    starting(photo)
    out = denoise_photo(model, image, replace(options, sigma=photo.level.sigma), progress.tracker("denoise"))
    write_photo(out, photo_file, target)
    return photo


def inpaint_file(model, options: InpaintOptions, source: str, mask_path: str, target: str) -> None:
    """Repaint the photo ``source`` where ``mask_path`` says, into the new file ``target``."""
    image, photo_file = read_photo(source)
    mask = read_mask(mask_path, tuple(image.shape[1:3]))
    out = inpaint(model, image, mask, options, progress.tracker("inpaint"))
    write_photo(out, photo_file, target, keep=(out[0] == image[0]).all(-1).numpy())

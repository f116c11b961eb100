"""Photos: denoising and inpainting real photos of any size with a pixel-space denoiser.

``denoise_photo(model, IMAGE, DenoiseOptions(...))`` (denoise.py: one-step MMSE or sampling, tiled, at
the level noise_level.py settles) and ``inpaint(model, IMAGE, MASK, InpaintOptions(...))`` (inpaint.py:
prefill, annealed or sampled fill, crop & stitch); latent.py runs both through a VAE; params.py declares
their parameters; files.py reads and writes photo files; commands.py, folder.py and cli.py are
``noisekit denoise`` / ``inpaint`` on a photo, on a folder, and their arguments.
"""
from .denoise import DenoiseOptions, denoise_photo
from .inpaint import InpaintOptions, inpaint

__all__ = ["DenoiseOptions", "denoise_photo", "InpaintOptions", "inpaint"]

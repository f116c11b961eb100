"""Photos: denoising and inpainting real photos of any size with a pixel-space denoiser.

``denoise_photo(model, IMAGE)`` (denoise.py: noise estimate, one-step MMSE or sampling, tiled)
and ``inpaint(model, IMAGE, MASK)`` (inpaint.py: prefill, annealed or sampled fill, crop &
stitch); files.py reads and writes photo files, cli.py is ``noisekit denoise`` / ``inpaint``.
"""
from .denoise import denoise_photo
from .inpaint import inpaint

__all__ = ["denoise_photo", "inpaint"]

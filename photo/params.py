"""The photo operations' parameters, declared once (type, default, bounds, tooltip): the nodes' inputs
(nodes/inputs.widget_spec), the photo commands (argparse types, choices, defaults) and the options of
denoise_photo and inpaint read them here. The node and the command enforce the bounds; the core refuses
only what it cannot compute (a denoise tile of 64 pixels works in the library, not on the node).
RePaint's jump_length and jump_n_sample are the RePaint sampler's own (samplers/__init__.py)."""
from __future__ import annotations

from ..registry import Param
from ..samplers import SAMPLERS
from .prefill import PREFILLS
from .tiling import PRECISIONS

# Peak memory of denoising or inpainting per pixel (the photo in float32 several times over, the tiles'
# accumulators and the stored values): the measured peak (README, "Memory budget") with a margin.
PHOTO_BYTES_PER_PIXEL = 90
MAX_EDGE = 256  # grow and feather widths in pixels (growing stops anyway once the mask covers the photo)
METHODS_HELP = ("patch: the model's layout and colours with the texture of the photo's own patches (fur, foliage, "
                "gravel), thin scratches filled smoothly; anneal: annealed posterior mean (highest PSNR in wide holes, "
                "smooth); texture: anneal, then a short stochastic tail that restores grain (sharper, lower PSNR); "
                "replace: sampling (varies with the seed); repaint: replace plus RePaint resampling")

# denoise_photo (photo/denoise.py)
NOISE_LEVEL = Param("noise_level", "FLOAT", 0.0, 0.0, 200.0, 0.5, tooltip="Noise std on the 0..255 scale; 0 = estimate it.")
MODE = Param("mode", "COMBO", "one_step", choices=("one_step", "sample"), tooltip="one_step (MMSE) or sample.")
DENOISE_STEPS = Param("steps", "INT", 8, 1, 200, 1, tooltip="Steps in sample mode.")
DENOISE_SAMPLER = Param("sampler", "COMBO", "dpmpp_2m", choices=tuple(SAMPLERS.names()),
                        tooltip="The sampler in sample mode.")
DENOISE_STRENGTH = Param("strength", "FLOAT", 1.0, 0.25, 4.0, 0.05,
                         tooltip="Multiplies the noise level the model removes (estimated or given): above 1 if "
                                 "grain is left, below 1 to keep more fine detail.")
DENOISE_TILE = Param("tile", "INT", 256, 128, 4096, 64, tooltip="Tile size: smaller uses less memory.")
PRECISION = Param("precision", "COMBO", "auto", choices=PRECISIONS,
                  tooltip="auto: bf16 on CPUs that compute it natively (faster, nearly the same result); fp32: "
                          "the same result on every machine")

# inpaint (photo/inpaint.py)
METHOD = Param("method", "COMBO", "patch", choices=("patch", "anneal", "texture", "replace", "repaint"),
               tooltip=METHODS_HELP + ".")
INPAINT_STEPS = Param("steps", "INT", 40, 1, 500, 1,
                      tooltip="patch / anneal: noise levels; replace / repaint: sampling steps (about 30).")
GROW = Param("grow", "INT", 0, 0, MAX_EDGE, 1, tooltip="Dilate the mask by pixels.")
FEATHER = Param("feather", "INT", 0, 0, MAX_EDGE, 1, tooltip="Soft edge width in pixels.")
PREFILL = Param("prefill", "COMBO", "biharmonic", choices=PREFILLS,
                tooltip="Fill the hole before noising (matters when strength < 1): the mean colour, a smooth "
                        "harmonic (diffuse) or biharmonic fill, or none.")
STRENGTH = Param("strength", "FLOAT", 0.57, 0.01, 1.0, 0.01,
                 tooltip="1 = paint from pure noise; lower keeps the prefill's layout.")
INPAINT_TILE = Param("tile", "INT", 64, 8, 4096, 8, tooltip="Tile size: only the tiles that touch the mask are run.")

# through a VAE (photo/latent.py)
RESOLUTION = Param("resolution", "INT", 0, 0, 8192, 8,
                   tooltip="With a guider: work at this longer side (e.g. 1024 for SDXL); 0 = the box's own size "
                           "(padded to the VAE's multiple, no resampling).")

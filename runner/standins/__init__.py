"""Stand-ins for the core ComfyUI nodes that saved graphs need around noisekit's,
used by the runner when ComfyUI is absent. Same class names, inputs, defaults and
behaviour as ComfyUI 0.8.0 (nodes.py, comfy_extras/nodes_mask.py), written anew;
each carries ``STANDIN = True`` so reports can say which stand-ins ran.
Split by kind: files.py (loaders, savers and their path guards), image.py, mask.py, latent.py.
"""
from __future__ import annotations

from . import files, image, latent, mask
from .files import PATHS, new_temp_dir

NODE_CLASS_MAPPINGS = {name: cls for module in (files, image, mask, latent) for name, cls in vars(module).items()
                       if isinstance(cls, type) and cls.__dict__.get("STANDIN")}

__all__ = ["NODE_CLASS_MAPPINGS", "PATHS", "new_temp_dir"]

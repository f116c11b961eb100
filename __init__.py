"""noisekit: ComfyUI node pack entry point and standalone diffusion library.

ComfyUI imports this package and reads NODE_CLASS_MAPPINGS,
NODE_DISPLAY_NAME_MAPPINGS and WEB_DIRECTORY. Importing it never needs ComfyUI.
"""
if __package__:  # pytest imports this file bare (no package) when it collects tests/
    import os
    import sys

    if "torch" not in sys.modules:  # before OpenMP starts (not inside ComfyUI): on a CPU shared with other
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # work, idle threads sleep instead of spinning
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
    from .nodes.server import install

    install()  # inside ComfyUI: its progress bars and noisekit's routes; a no-op elsewhere

    WEB_DIRECTORY = "./web"

    __all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]

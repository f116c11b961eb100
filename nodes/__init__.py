"""ComfyUI node classes (classic API).

Each module listed in _MODULES defines NODE_CLASS_MAPPINGS and
NODE_DISPLAY_NAME_MAPPINGS; this package merges them. Only nodes/adapter.py
imports ComfyUI, lazily.
"""
from importlib import import_module

_MODULES = ("schedules", "custom_sigmas", "samplers", "forward", "sample", "plot", "photo", "tune")

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
for _name in _MODULES:
    _module = import_module(f".{_name}", __name__)
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)

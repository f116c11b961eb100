"""SAMPLER and NOISE nodes, generated from the samplers registry."""
from __future__ import annotations

from ..samplers import SAMPLERS
from . import compat
from .spec import SEED, input_spec, node_errors
from .schedules import _camel

CATEGORY = "noisekit/samplers"


def sampler_node(entry):
    class SamplerNode:
        DISPLAY = f"Sampler {entry.name} (noisekit)"
        RETURN_TYPES = ("SAMPLER",)
        RETURN_NAMES = ("sampler",)
        OUTPUT_TOOLTIPS = ("Plugs into SamplerCustom / SamplerCustomAdvanced or noisekit's Sample node.",)
        FUNCTION = "make"
        CATEGORY = CATEGORY
        DESCRIPTION = (entry.fn.__doc__ or entry.name).strip().split("\n\n")[0]

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {p.name: input_spec(p) for p in entry.params}}

        @node_errors
        def make(self, **options):
            return (compat.make_sampler(entry.name, **options),)

    SamplerNode.__name__ = f"Sampler{_camel(entry.name)}"
    return SamplerNode


class SamplerSelect:
    DISPLAY = "Sampler (noisekit)"
    RETURN_TYPES = ("SAMPLER",)
    RETURN_NAMES = ("sampler",)
    OUTPUT_TOOLTIPS = ("Plugs into SamplerCustom / SamplerCustomAdvanced or noisekit's Sample node.",)
    FUNCTION = "make"
    CATEGORY = CATEGORY
    DESCRIPTION = "Any noisekit sampler by name, with its default options (use the dedicated node to change them)."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sampler_name": (SAMPLERS.names(), {"default": "euler", "tooltip": "Which solver."})}}

    @node_errors
    def make(self, sampler_name):
        return (compat.make_sampler(sampler_name),)


class Noise:
    DISPLAY = "Noise (noisekit)"
    RETURN_TYPES = ("NOISE",)
    RETURN_NAMES = ("noise",)
    OUTPUT_TOOLTIPS = ("Seeded noise: item i uses seed + i on a CPU generator, so any device and batch size agree.",)
    FUNCTION = "make"
    CATEGORY = CATEGORY
    DESCRIPTION = "A NOISE source for SamplerCustomAdvanced that gives the same picture on CPU and GPU."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"noise_seed": SEED}}

    def make(self, noise_seed):
        return (compat.Noise(noise_seed),)


NODE_CLASS_MAPPINGS = {"NoisekitSampler": SamplerSelect, "NoisekitNoise": Noise}
NODE_CLASS_MAPPINGS.update({f"NoisekitSampler{_camel(e.name)}": sampler_node(e) for e in SAMPLERS})
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

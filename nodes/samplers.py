"""SAMPLER and NOISE nodes, generated from the samplers registry."""
from __future__ import annotations

from ..samplers import SAMPLERS
from . import adapter
from .inputs import SEED, NodeError, camel, widget_spec, node_errors

CATEGORY = "noisekit/samplers"


def sampler_node(entry):
    class SamplerNode:
        DISPLAY = f"Sampler {entry.name} (noisekit)"
        RETURN_TYPES = ("SAMPLER",)
        RETURN_NAMES = ("sampler",)
        OUTPUT_TOOLTIPS = ("Plugs into SamplerCustom / SamplerCustomAdvanced or noisekit's Sample node.",)
        FUNCTION = "make"
        CATEGORY = CATEGORY
        DESCRIPTION = entry.description or entry.name

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {p.name: widget_spec(p) for p in entry.params}}

        @node_errors
        def make(self, **options):
            return (adapter.make_sampler(entry.name, **options),)

    SamplerNode.__name__ = f"Sampler{camel(entry.name)}"
    return SamplerNode


class SamplerSelect:
    """Any registered sampler by name.

    A combo plus the two knobs most samplers share (eta, s_noise) rather than the union of
    every sampler's options; the dedicated nodes expose the rest.
    """

    DISPLAY = "Sampler (noisekit)"
    RETURN_TYPES = ("SAMPLER",)
    RETURN_NAMES = ("sampler",)
    OUTPUT_TOOLTIPS = ("Plugs into SamplerCustom / SamplerCustomAdvanced or noisekit's Sample node.",)
    FUNCTION = "make"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Any noisekit sampler by name. eta and s_noise apply to the samplers that have them; other "
                   "options keep their defaults (use the dedicated sampler node to change them).")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "sampler_name": (SAMPLERS.names(), {"default": "euler", "tooltip": "Which solver."}),
            "eta": ("FLOAT", {"default": -1.0, "min": -1.0, "max": 1.0, "step": 0.01, "tooltip":
                    "Stochasticity of ancestral, DDIM and SDE samplers (0 = deterministic, 1 = full); "
                    "-1 keeps each sampler's own default (DDIM 0, the others 1)."}),
            "s_noise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 2.0, "step": 0.001,
                                  "tooltip": "Scale of the fresh noise added per step, for samplers that add any."}),
        }}

    @node_errors
    def make(self, sampler_name, eta=-1.0, s_noise=1.0):
        if sampler_name not in SAMPLERS:
            raise NodeError(self.DISPLAY, "sampler_name", f"unknown sampler {sampler_name!r}; "
                                                          f"one of {SAMPLERS.names()}")
        declared = SAMPLERS.get(sampler_name).defaults()
        options = {k: v for k, v in (("eta", eta), ("s_noise", s_noise)) if k in declared}
        if eta < 0:
            options.pop("eta", None)
        return (adapter.make_sampler(sampler_name, **options),)


class Noise:
    DISPLAY = "Noise (noisekit)"
    RETURN_TYPES = ("NOISE",)
    RETURN_NAMES = ("noise",)
    OUTPUT_TOOLTIPS = ("Seeded noise: item i uses seed + i on a CPU generator, so any device and batch size agree.",)
    FUNCTION = "make"
    CATEGORY = "noisekit/noise"
    DESCRIPTION = ("A NOISE source for SamplerCustomAdvanced (in place of RandomNoise) that gives the same picture "
                   "on CPU and GPU and at any batch size.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"noise_seed": SEED}}

    def make(self, noise_seed):
        return (adapter.SeededNoise(noise_seed),)


NODE_CLASS_MAPPINGS = {"NoisekitSampler": SamplerSelect, "NoisekitNoise": Noise}
NODE_CLASS_MAPPINGS.update({f"NoisekitSampler{camel(e.name)}": sampler_node(e) for e in SAMPLERS})
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

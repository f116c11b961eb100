"""Schedule and sigma-tool nodes, generated from the schedules registries."""
from __future__ import annotations

from ..schedules import MODEL_PRESETS, SCHEDULES, SIGMA_TOOLS
from ..schedules.tools import img2img_sigmas
from .inputs import NodeError, camel, check_sigmas, comfy_sigmas, widget_spec, node_errors

CATEGORY = "noisekit/schedules"
TOOL_CATEGORY = "noisekit/sigmas"


def schedule_node(entry):
    class ScheduleNode:
        DISPLAY = f"Schedule {entry.name} (noisekit)"
        SCHEDULE = entry.name
        RETURN_TYPES = ("SIGMAS",)
        RETURN_NAMES = ("sigmas",)
        OUTPUT_TOOLTIPS = ("steps + 1 noise levels, descending, ending in 0 (float32 on the CPU, as ComfyUI's; "
                           "the core computes them in float64).",)
        FUNCTION = "make"
        CATEGORY = CATEGORY
        DESCRIPTION = f"{entry.description.rstrip('.')}. " + (
            "The model's training betas are widgets, so no MODEL is needed (ComfyUI's BasicScheduler needs one)."
            if "discrete" in entry.tags else "Model-free: no MODEL input needed.")

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {p.name: widget_spec(p) for p in entry.params}}

        @node_errors
        def make(self, **params):
            return (comfy_sigmas(entry(**params)),)

    ScheduleNode.__name__ = f"Schedule{camel(entry.name)}"
    return ScheduleNode


class Schedule:
    """Any registered schedule by name.

    One combo plus the knobs every user needs (steps, the sigma range or a model preset,
    denoise) rather than the union of all schedules' knobs: most knobs belong to one schedule
    and would be dead widgets for the others. The per-schedule nodes expose every knob.
    """

    DISPLAY = "Schedule (noisekit)"
    RETURN_TYPES = ("SIGMAS",)
    RETURN_NAMES = ("sigmas",)
    OUTPUT_TOOLTIPS = ("The noise levels, descending, ending in 0 (float32 on the CPU, as ComfyUI's; "
                       "the core computes them in float64).",)
    FUNCTION = "make"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Every noisekit schedule in one node, no MODEL needed. sigma_min/sigma_max (or a preset) set the "
                   "range of the VE schedules that take one (karras, exponential, ...); flow schedules keep sigma "
                   "in [0, 1]; DDPM-family spacings use SD1.x betas. Other knobs keep their defaults: use the "
                   "dedicated schedule node to change them.")

    @classmethod
    def INPUT_TYPES(cls):
        karras = SCHEDULES.get("karras")
        return {"required": {
            "schedule": (SCHEDULES.names(), {"default": "karras", "tooltip": "Which schedule."}),
            "steps": widget_spec(karras.param("steps")),
            "sigma_min": widget_spec(karras.param("sigma_min")),
            "sigma_max": widget_spec(karras.param("sigma_max")),
            "preset": (["custom"] + list(MODEL_PRESETS), {"default": "custom",
                       "tooltip": "Take sigma_min/sigma_max from a common model instead of the two widgets above."}),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                        "Img2img strength, as ComfyUI's BasicScheduler: the last steps + 1 sigmas of a schedule of "
                        "steps / denoise steps (1 = from pure noise, 0 = empty: nothing to do)."}),
        }}

    @node_errors
    def make(self, schedule, steps, sigma_min, sigma_max, preset="custom", denoise=1.0):
        entry = SCHEDULES.get(schedule)
        if preset != "custom":
            if preset not in MODEL_PRESETS:
                raise NodeError(self.DISPLAY, "preset", f"unknown preset {preset!r}; one of {list(MODEL_PRESETS)}")
            sigma_min, sigma_max = MODEL_PRESETS[preset]["sigma_min"], MODEL_PRESETS[preset]["sigma_max"]
        knobs = {}
        if "continuous" in entry.tags and "flow" not in entry.tags:
            knobs = {k: v for k, v in (("sigma_min", sigma_min), ("sigma_max", sigma_max)) if k in entry.defaults()}
        return (comfy_sigmas(img2img_sigmas(lambda n: entry(steps=n, **knobs), steps, denoise)),)


def tool_node(entry):
    binary, split = "binary" in entry.tags, "split" in entry.tags

    class ToolNode:
        DISPLAY = f"Sigmas {entry.name.replace('_', ' ')} (noisekit)"
        TOOL = entry.name
        RETURN_TYPES = ("SIGMAS", "SIGMAS") if split else ("SIGMAS",)
        RETURN_NAMES = ("high_sigmas", "low_sigmas") if split else ("sigmas",)
        OUTPUT_TOOLTIPS = (("The noisy part (up to the split).", "The clean part (from the split on).") if split
                           else ("The resulting schedule.",))
        FUNCTION = "apply"
        CATEGORY = TOOL_CATEGORY
        DESCRIPTION = entry.description

        @classmethod
        def INPUT_TYPES(cls):
            required = {"sigmas": ("SIGMAS", {"tooltip": "The schedule to transform."})}
            if binary:
                required["other"] = ("SIGMAS", {"tooltip": "The schedule appended after the first."})
            required.update({p.name: widget_spec(p) for p in entry.params})
            return {"required": required}

        @node_errors
        def apply(self, sigmas, other=None, **params):
            check_sigmas(self.DISPLAY, "sigmas", sigmas)
            if binary:
                check_sigmas(self.DISPLAY, "other", other)
            out = entry(sigmas.double(), *([other.double()] if binary else []), **params)
            return tuple(comfy_sigmas(s) for s in out) if split else (comfy_sigmas(out),)

    ToolNode.__name__ = f"Sigmas{camel(entry.name)}"
    return ToolNode


NODE_CLASS_MAPPINGS = {"NoisekitSchedule": Schedule}
NODE_CLASS_MAPPINGS.update({f"NoisekitSchedule{camel(e.name)}": schedule_node(e) for e in SCHEDULES})
NODE_CLASS_MAPPINGS.update({f"NoisekitSigmas{camel(e.name)}": tool_node(e) for e in SIGMA_TOOLS})
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

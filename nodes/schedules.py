"""Schedule and sigma-tool nodes, generated from the schedules registries."""
from __future__ import annotations

from ..schedules import MODEL_PRESETS, SCHEDULES, SIGMA_TOOLS
from .spec import comfy_sigmas, input_spec, node_errors

CATEGORY = "noisekit/schedules"
TOOL_CATEGORY = "noisekit/sigmas"


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def schedule_node(entry):
    class ScheduleNode:
        DISPLAY = f"Schedule {entry.name} (noisekit)"
        SCHEDULE = entry.name
        RETURN_TYPES = ("SIGMAS",)
        RETURN_NAMES = ("sigmas",)
        OUTPUT_TOOLTIPS = ("steps + 1 noise levels, descending, ending in 0.",)
        FUNCTION = "make"
        CATEGORY = CATEGORY
        DESCRIPTION = f"{entry.description} Model-free: no MODEL input needed."

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {p.name: input_spec(p) for p in entry.params}}

        @node_errors
        def make(self, **params):
            return (comfy_sigmas(entry(**params)),)

    ScheduleNode.__name__ = f"Schedule{_camel(entry.name)}"
    return ScheduleNode


class Schedule:
    """Any registered schedule by name, with the common knobs and model presets."""

    DISPLAY = "Schedule (noisekit)"
    RETURN_TYPES = ("SIGMAS",)
    RETURN_NAMES = ("sigmas",)
    OUTPUT_TOOLTIPS = ("steps + 1 noise levels, descending, ending in 0.",)
    FUNCTION = "make"
    CATEGORY = CATEGORY
    DESCRIPTION = ("Every noisekit schedule in one node. sigma_min/sigma_max apply to schedules with a sigma "
                   "range; a preset other than 'custom' sets them from a common model. Other knobs keep their "
                   "defaults: use the dedicated node to change them.")

    @classmethod
    def INPUT_TYPES(cls):
        karras = SCHEDULES.get("karras")
        return {"required": {
            "schedule": (SCHEDULES.names(), {"default": "karras", "tooltip": "Which schedule."}),
            "steps": input_spec(karras.param("steps")),
            "sigma_min": input_spec(karras.param("sigma_min")),
            "sigma_max": input_spec(karras.param("sigma_max")),
            "preset": (["custom"] + list(MODEL_PRESETS), {"default": "custom",
                       "tooltip": "Take sigma_min/sigma_max from a common model instead of the widgets."}),
        }}

    @node_errors
    def make(self, schedule, steps, sigma_min, sigma_max, preset="custom"):
        entry = SCHEDULES.get(schedule)
        if preset != "custom":
            sigma_min, sigma_max = MODEL_PRESETS[preset]["sigma_min"], MODEL_PRESETS[preset]["sigma_max"]
        knobs = {k: v for k, v in (("sigma_min", sigma_min), ("sigma_max", sigma_max)) if k in entry.defaults()}
        return (comfy_sigmas(entry(steps=steps, **knobs)),)


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
            required.update({p.name: input_spec(p) for p in entry.params})
            return {"required": required}

        @node_errors
        def apply(self, sigmas, other=None, **params):
            out = entry(sigmas.double(), *([other.double()] if binary else []), **params)
            return tuple(comfy_sigmas(s) for s in out) if split else (comfy_sigmas(out),)

    ToolNode.__name__ = f"Sigmas{_camel(entry.name)}"
    return ToolNode


NODE_CLASS_MAPPINGS = {"NoisekitSchedule": Schedule}
NODE_CLASS_MAPPINGS.update({f"NoisekitSchedule{_camel(e.name)}": schedule_node(e) for e in SCHEDULES})
NODE_CLASS_MAPPINGS.update({f"NoisekitSigmas{_camel(e.name)}": tool_node(e) for e in SIGMA_TOOLS})
NODE_DISPLAY_NAME_MAPPINGS = {k: v.DISPLAY for k, v in NODE_CLASS_MAPPINGS.items()}

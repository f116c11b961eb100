"""One declaration per photo parameter (photo/params.py): the nodes' inputs, the commands' options and
the options' defaults read the same bounds and defaults."""
import argparse

import pytest

from noisekit.cli import build_parser
from noisekit.nodes import NODE_CLASS_MAPPINGS as NODES
from noisekit.nodes.inputs import widget_spec
from noisekit.photo import params
from noisekit.photo.denoise import DenoiseOptions
from noisekit.photo.inpaint import InpaintOptions
from noisekit.samplers import JUMP_LENGTH, JUMP_N_SAMPLE, SAMPLERS

DENOISE = {"noise_level": params.NOISE_LEVEL, "mode": params.MODE, "steps": params.DENOISE_STEPS,
           "tile": params.DENOISE_TILE, "resolution": params.RESOLUTION, "strength": params.DENOISE_STRENGTH}
INPAINT = {"method": params.METHOD, "steps": params.INPAINT_STEPS, "grow": params.GROW, "feather": params.FEATHER,
           "prefill": params.PREFILL, "strength": params.STRENGTH, "jump_length": JUMP_LENGTH,
           "jump_n_sample": JUMP_N_SAMPLE, "resolution": params.RESOLUTION}
# command -> option -> (its Param, the node that has the same input)
OPTIONS = {"denoise": {"--steps": (params.DENOISE_STEPS, "NoisekitDenoisePhoto"),
                       "--tile": (params.DENOISE_TILE, "NoisekitDenoisePhoto"),
                       "--strength": (params.DENOISE_STRENGTH, "NoisekitDenoisePhoto")},
           "inpaint": {"--steps": (params.INPAINT_STEPS, "NoisekitInpaintPhoto"),
                       "--grow": (params.GROW, "NoisekitInpaintPhoto"),
                       "--feather": (params.FEATHER, "NoisekitInpaintPhoto"),
                       "--strength": (params.STRENGTH, "NoisekitInpaintPhoto"),
                       "--jump-length": (JUMP_LENGTH, "NoisekitInpaintPhoto"),
                       "--jump-n-sample": (JUMP_N_SAMPLE, "NoisekitInpaintPhoto")}}


def node_inputs(name: str) -> dict:
    spec = NODES[name].INPUT_TYPES()
    return {**spec["required"], **spec.get("optional", {})}


def command(name: str) -> argparse.ArgumentParser:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


@pytest.mark.parametrize("node,declared", [("NoisekitDenoisePhoto", DENOISE), ("NoisekitInpaintPhoto", INPAINT)])
def test_the_photo_nodes_inputs_are_the_declarations(node, declared):
    inputs = node_inputs(node)
    for name, param in declared.items():
        assert inputs[name] == widget_spec(param), name


def test_the_repaint_sampler_node_and_the_inpaint_node_share_the_jump_bounds():
    repaint = NODES["NoisekitSamplerRepaint"].INPUT_TYPES()["required"]
    for name in ("jump_length", "jump_n_sample"):
        assert repaint[name][1]["max"] == node_inputs("NoisekitInpaintPhoto")[name][1]["max"]
    assert SAMPLERS.get("repaint").param("jump_length") is JUMP_LENGTH


@pytest.mark.parametrize("name,option,param,node", [(c, o, p, n) for c, opts in OPTIONS.items()
                                                     for o, (p, n) in opts.items()])
def test_a_command_refuses_exactly_beyond_the_nodes_bounds(name, option, param, node, capsys):
    parser = command(name)
    widget = node_inputs(node)[param.name][1]
    args = ["in.png", "out.png"] if name == "denoise" else ["in.png", "mask.png", "out.png"]
    for inside in (widget["min"], widget["max"]):
        assert getattr(parser.parse_args([*args, option, str(inside)]), param.name) == inside
    step = 1 if param.type == "INT" else param.step
    for outside in (widget["min"] - step, widget["max"] + step):
        with pytest.raises(SystemExit):
            parser.parse_args([*args, option, str(outside)])
        assert f"must be in [{param.min:g}, {param.max:g}]" in capsys.readouterr().err
    assert parser.get_default(param.name) == widget["default"] == param.default


def test_sigma_is_refused_beyond_the_noise_level_inputs_bound(tmp_path, capsys):
    from noisekit.cli import main

    top = node_inputs("NoisekitDenoisePhoto")["noise_level"][1]["max"]
    assert main(["denoise", str(tmp_path / "p.png"), str(tmp_path / "o.png"), "--sigma", str(top + 0.5)]) == 2
    assert f"--sigma must be in (0, {top:g}]" in capsys.readouterr().err


def test_the_options_and_the_commands_defaults_are_the_declarations():
    denoise, inpaint = command("denoise"), command("inpaint")
    for field, param in (("mode", params.MODE), ("steps", params.DENOISE_STEPS), ("tile", params.DENOISE_TILE),
                         ("sampler", params.DENOISE_SAMPLER), ("precision", params.PRECISION)):
        assert getattr(DenoiseOptions(), field) == denoise.get_default(field) == param.default, field
    for field, param in (("method", params.METHOD), ("steps", params.INPAINT_STEPS), ("grow", params.GROW),
                         ("feather", params.FEATHER), ("prefill", params.PREFILL), ("strength", params.STRENGTH),
                         ("jump_length", JUMP_LENGTH), ("jump_n_sample", JUMP_N_SAMPLE),
                         ("tile", params.INPAINT_TILE)):
        assert getattr(InpaintOptions(), field) == inpaint.get_default(field) == param.default, field
    assert DenoiseOptions().seed == denoise.get_default("seed") and InpaintOptions().seed == inpaint.get_default("seed")

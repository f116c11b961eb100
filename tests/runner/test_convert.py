"""UI -> API conversion against what the real ComfyUI frontend (1.35.9, on ComfyUI 0.8.0) queued.

fixtures/comfyui/frontend_workflows.json holds workflows built in the real editor by
tests/comfyui/record_workflows.mjs, each with its graphToPrompt output; object_info.json is the
/object_info of the nodes they use, recorded from the same server. Together they check, without
ComfyUI, subgraphs (nested too), bypassed and muted nodes inside a subgraph, a reroute, a legacy
PrimitiveNode, a PrimitiveInt linked into a widget promoted to a subgraph input, an unlinked subgraph
input whose widget the subgraph node shows, a group node, and a mix of core, noisekit and third-party
nodes."""
import json
import os

import pytest

from noisekit.cli import main
from noisekit.runner import load_prompt
from noisekit.runner.convert import InfoNode, object_info_classes, workflow_to_prompt
from noisekit.runner.core_nodes import core_node_hint
from noisekit.runner.execute import default_node_classes
from noisekit.runner.outcome import GraphFormatError

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "comfyui")
OBJECT_INFO = os.path.join(FIXTURES, "object_info.json")
with open(os.path.join(FIXTURES, "frontend_workflows.json"), encoding="utf-8") as f:
    RECORDED = json.load(f)["workflows"]


def strip(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def classes():
    return {**default_node_classes(), **object_info_classes(OBJECT_INFO)}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_conversion_equals_the_frontends_graph_to_prompt(name):
    recorded = RECORDED[name]
    assert strip(workflow_to_prompt(recorded["workflow"], classes())) == strip(recorded["prompt"])


def test_subgraph_ids_bypass_and_mute_inside_it():
    prompt = workflow_to_prompt(RECORDED["subgraph_ksampler"]["workflow"], classes())
    sampler = prompt["11:4"]["inputs"]
    assert sampler["latent_image"] == ["3", 0]  # through the bypassed LatentMultiply and the subgraph input
    assert sampler["seed"] == ["8", 0] and sampler["negative"] == ["2", 0]  # PrimitiveInt; through the reroute
    assert prompt["3"]["inputs"]["batch_size"] == 3  # the PrimitiveNode's value
    assert [n["class_type"] for n in prompt.values()].count("ProbeLatentStats") == 1  # the muted one is gone
    assert prompt["5"]["inputs"]["latent"] == ["11:4", 0]  # out of the subgraph
    promoted = workflow_to_prompt(RECORDED["subgraph_promoted_widget"]["workflow"], classes())
    assert promoted["7:4"]["inputs"]["seed"] == 99  # the subgraph node's widget, not the inner 42
    nested = workflow_to_prompt(RECORDED["nested_subgraph"]["workflow"], classes())
    assert nested["7:6:4"]["inputs"]["positive"] == ["7:2", 0] and nested["5"]["inputs"]["latent"] == ["7:6:4", 0]


def test_noisekit_convert_writes_a_new_file(tmp_path, capsys):
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps(RECORDED["subgraph_ksampler"]["workflow"]))
    out = tmp_path / "api.json"
    assert main(["convert", str(workflow), "-o", str(out), "--object-info", OBJECT_INFO]) == 0
    assert strip(json.loads(out.read_text())) == strip(RECORDED["subgraph_ksampler"]["prompt"])
    assert main(["convert", str(workflow), "-o", str(out), "--object-info", OBJECT_INFO]) == 2
    assert "never overwrites" in capsys.readouterr().err
    # the converted prompt loads as an API prompt (no conversion needed twice)
    assert strip(load_prompt(json.loads(out.read_text()), classes())[0]) == strip(RECORDED["subgraph_ksampler"]["prompt"])


def test_convert_without_input_types_says_how_to_get_them(tmp_path, capsys):
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps(RECORDED["core_ksampler"]["workflow"]))
    assert main(["convert", str(workflow)]) == 2
    err = capsys.readouterr().err
    assert "KSampler (node 4)" in err and "--comfyui PATH" in err and "--object-info" in err


def test_group_node_widgets_are_the_group_nodes_own():
    workflow = json.loads(json.dumps(RECORDED["group_node"]["workflow"]))
    group = next(n for n in workflow["nodes"] if n["type"].startswith("workflow>"))
    assert group["widgets_values"][5] == 6  # KSampler's steps, after EmptyLatentImage's 3 and seed, control
    group["widgets_values"][5] = 9  # edited on the group node: the inner node's saved value is stale
    assert workflow_to_prompt(workflow, classes())["6:1"]["inputs"]["steps"] == 9


def test_undefined_group_nodes_and_self_containing_subgraphs_are_refused():
    workflow = json.loads(json.dumps(RECORDED["group_node"]["workflow"]))
    workflow["extra"]["groupNodes"] = {}
    with pytest.raises(GraphFormatError, match="does not define it"):
        workflow_to_prompt(workflow, classes())
    looped = json.loads(json.dumps(RECORDED["nested_subgraph"]["workflow"]))
    inner = looped["definitions"]["subgraphs"][0]
    inner["nodes"].append({**looped["nodes"][-1], "id": 99, "type": inner["id"]})
    with pytest.raises(GraphFormatError, match="contains itself"):
        workflow_to_prompt(looped, classes())


def test_unknown_core_node_without_comfyui_says_how_to_get_it(tmp_path, capsys):
    graph = tmp_path / "api.json"
    graph.write_text(json.dumps(RECORDED["core_ksampler"]["prompt"]))
    assert main(["run", str(graph), "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "KSampler is a ComfyUI node: pass --comfyui PATH to a ComfyUI checkout" in err
    assert "ProbeAnalyticModel" in err and "is the node pack that provides it installed?" in err


@pytest.mark.parametrize("kind", ["LoadAudio", "SaveAudio", "VAEDecodeAudio", "AudioEncoderLoader", "LTXVEmptyLatentAudio"])
def test_audio_nodes_are_named_as_comfyuis_too(kind):
    assert core_node_hint(kind).startswith(f"{kind} is a ComfyUI node: pass --comfyui PATH")
    assert core_node_hint("NotANode") is None


@pytest.mark.parametrize("workflow, problem", [
    ({"nodes": [5], "links": []}, "graph: nodes[0] must be an object, got 5"),
    ({"nodes": [], "links": 5}, "graph: 'links' must be a list, got 5"),
])
def test_convert_refuses_a_malformed_workflow_as_run_does(tmp_path, capsys, workflow, problem):
    assert_refused_by_convert_and_run(tmp_path, capsys, workflow, problem)


def assert_refused_by_convert_and_run(tmp_path, capsys, workflow: dict, problem: str):
    """Both commands: exit 2, nothing on stdout, the one problem listed on stderr."""
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow))
    for command in (["convert", str(path)], ["run", str(path), "--output-dir", str(tmp_path / "out")]):
        assert main(command) == 2
        out, err = capsys.readouterr()
        assert not out and err.splitlines() == [f"noisekit {command[0]}: malformed UI workflow, 1 problem(s):",
                                                f"  - {problem}"]


def nested_subgraphs(depth: int) -> dict:
    """A workflow whose one node is subgraph s0, which holds s1, ... down to s{depth - 1}."""
    subgraphs = [{"id": f"s{i}", "nodes": [{"id": 1, "type": f"s{i + 1}"}] if i < depth - 1 else [], "links": []}
                 for i in range(depth)]
    return {"nodes": [{"id": 1, "type": "s0"}], "links": [], "definitions": {"subgraphs": subgraphs}}


def test_convert_refuses_subgraph_recursion_as_run_does(tmp_path, capsys):
    looped = json.loads(json.dumps(RECORDED["nested_subgraph"]["workflow"]))
    inner = looped["definitions"]["subgraphs"][0]
    inner["nodes"].append({**looped["nodes"][-1], "id": 99, "type": inner["id"]})
    for workflow, words in ((looped, f"subgraph {inner['id']} contains itself"),
                            (nested_subgraphs(5000), "subgraphs nest more than 100 deep (5000); flatten some of them")):
        assert_refused_by_convert_and_run(tmp_path, capsys, workflow, f"graph: {words}")


# fixtures/comfyui/frontend_v3_workflows.json: recorded by tests/comfyui/record_v3_workflows.mjs in the newest
# frontend (1.58.1) on ComfyUI 0.8.0, with the /object_info of the nodes they use.
with open(os.path.join(FIXTURES, "frontend_v3_workflows.json"), encoding="utf-8") as f:
    V3 = json.load(f)


def v3_classes():
    return {name: InfoNode(name, info) for name, info in V3["object_info"].items()}


def v3_workflow(name):
    return json.loads(json.dumps(V3["workflows"][name]["workflow"]))


@pytest.mark.parametrize("name", sorted(V3["workflows"]))
def test_conversion_equals_the_newest_frontends_graph_to_prompt(name, capsys):
    """V3 DynamicCombo (nested, with a socket sub-input), Autogrow, combo controls, an older save, extra values,
    colliding subgraph ids, a subgraph node saved before proxyWidgets: key for key what 1.58.1 queued."""
    recorded = V3["workflows"][name]
    assert strip(workflow_to_prompt(recorded["workflow"], v3_classes())) == strip(recorded["prompt"])


def test_dynamic_combo_sub_inputs_are_named_after_their_combo():
    inputs = workflow_to_prompt(v3_workflow("v3_runner_pack"), v3_classes())["2"]["inputs"]
    assert (inputs["mode"], inputs["mode.factor"], inputs["mode.offset"], inputs["mode.offset.amount"]) == \
        ("scale", 3, "add", 0.25)
    assert inputs["pick"] == "b" and inputs["seed"] == 5  # after the combo's two controls; the seed has none
    assert inputs["extras.first"] == ["1", 0] and "extras.third" not in inputs  # Autogrow: the linked sockets
    resize = workflow_to_prompt(v3_workflow("dynamic_combo"), v3_classes())
    assert resize["4"]["inputs"]["resize_type.match"] == ["3", 0] and "resize_type.width" not in resize["4"]["inputs"]


def test_an_older_save_gets_the_default_of_the_widget_it_lacks():
    workflow = v3_workflow("older_save")
    assert len(next(n for n in workflow["nodes"] if n["type"] == "ImageScaleToTotalPixels")["widgets_values"]) == 2
    assert workflow_to_prompt(workflow, v3_classes())["2"]["inputs"]["resolution_steps"] == 1  # declared default


def test_values_that_do_not_fit_are_warned_about_and_refused_with_strict(tmp_path, capsys):
    workflow, info = tmp_path / "extra.json", tmp_path / "object_info.json"
    workflow.write_text(json.dumps(V3["workflows"]["extra_values"]["workflow"]))
    info.write_text(json.dumps(V3["object_info"]))
    assert main(["convert", str(workflow), "--object-info", str(info)]) == 0
    out, err = capsys.readouterr()
    assert strip(json.loads(out)) == strip(V3["workflows"]["extra_values"]["prompt"])
    assert err == 'noisekit: warning: node 1 (EmptyImage) 2 widget value(s) more than its widgets, dropped: 7, "spare"\n'
    assert main(["convert", str(workflow), "--object-info", str(info), "--strict", "-o", str(tmp_path / "api.json")]) == 2
    out, err = capsys.readouterr()
    assert not out and not (tmp_path / "api.json").exists()
    assert err.splitlines() == ["noisekit convert: saved widget values do not fit 1 node(s) (--strict):",
                                '  - node 1: (EmptyImage) 2 widget value(s) more than its widgets, dropped: 7, "spare"']


def test_a_shifted_value_is_a_misfit_too():
    workflow = v3_workflow("older_save")
    node = next(n for n in workflow["nodes"] if n["type"] == "ImageScaleToTotalPixels")
    node["widgets_values"] = [0.01, "nearest-exact"]  # shifted: the combo's value where a number belongs
    warnings = []
    workflow_to_prompt(workflow, v3_classes(), warn=warnings.append)
    assert warnings == ["node 2 (ImageScaleToTotalPixels) widget 'megapixels' (FLOAT) has the value \"nearest-exact\""]


def test_colliding_subgraph_ids_are_renumbered_as_the_newest_frontend_does():
    workflow = v3_workflow("colliding_ids")
    inner = workflow["definitions"]["subgraphs"][0]["nodes"]
    assert {n["id"] for n in inner} <= {n["id"] for n in workflow["nodes"]}  # as saved: the top-level ids
    warnings = []
    prompt = workflow_to_prompt(workflow, v3_classes(), warn=warnings.append)
    assert sorted(prompt) == ["1", "2", "5", "7:8", "7:9"]
    assert prompt["7:8"]["inputs"]["latent_image"] == ["7:9", 0] and prompt["5"]["inputs"]["latent"] == ["7:8", 0]
    assert prompt["7:8"]["inputs"]["seed"] == 99  # the proxyWidgets entry follows its node
    assert warnings == [f"subgraph 'New Subgraph': its node {old} is node {new}, as the newest ComfyUI frontend "
                        f"renumbers an id that another node has; prompt ids (--set, errors) end in :{new}"
                        for old, new in ((1, 8), (2, 9))]


def test_a_subgraph_node_saved_before_proxy_widgets_shows_its_own_values():
    workflow = v3_workflow("legacy_promoted_widget")
    sampler = next(n for n in workflow["definitions"]["subgraphs"][0]["nodes"] if n["type"] == "KSampler")
    assert sampler["widgets_values"][0] != 99 and 99 in next(n for n in workflow["nodes"] if n["id"] == 7)["widgets_values"]
    assert workflow_to_prompt(workflow, v3_classes())["7:4"]["inputs"]["seed"] == 99

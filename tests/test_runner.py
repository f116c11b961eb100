"""The headless runner: formats, validation, execution, caching, stand-ins, CLI."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.runner import GraphInvalid, NodeFailed, Runner, load_prompt, node_classes, validate
from noisekit.runner.cli import main
from noisekit.runner.standins import PATHS

CALLS = []


class Number:
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "make"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0}),
                             "seed": ("INT", {"default": 0, "min": 0, "max": 100})}}

    def make(self, value, seed):
        CALLS.append(("Number", value))
        return (value + seed,)


class Add:
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "add"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("FLOAT", {"forceInput": True}), "mode": (["sum", "diff"],)},
                "optional": {"b": ("FLOAT", {"forceInput": True})}}

    def add(self, a, mode, b=0.0):
        CALLS.append(("Add", a, b))
        return (a + b if mode == "sum" else a - b,)


class Show:
    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True})}, "hidden": {"node": "UNIQUE_ID"}}

    def show(self, x, node=None):
        CALLS.append(("Show", x))
        return {"ui": {"value": [x], "node": [node]}}


class Fails:
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "go"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True})}}

    def go(self, x):
        raise ValueError("Fails: input 'x': must be negative")


CLASSES = {"Number": Number, "Add": Add, "Show": Show, "Fails": Fails, **node_classes()}

API = {
    "1": {"class_type": "Number", "inputs": {"value": 2.0, "seed": 3}},
    "2": {"class_type": "Number", "inputs": {"value": 4.0, "seed": 0}},
    "3": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": ["2", 0], "mode": "sum"}},
    "4": {"class_type": "Show", "inputs": {"x": ["3", 0]}},
}

# The same graph as the UI saves it, with a Reroute, a PrimitiveNode feeding a widget, a muted
# Number, a bypassed Add between 3 and 4, a note, and the control value after the seed.
UI = {
    "last_node_id": 10, "last_link_id": 8, "version": 0.4, "groups": [], "config": {}, "extra": {},
    "nodes": [
        {"id": 1, "type": "Number", "mode": 0, "inputs": [], "outputs": [{"name": "FLOAT", "type": "FLOAT", "links": [1]}],
         "widgets_values": [2.0, 3, "randomize"]},
        {"id": 2, "type": "Number", "mode": 0, "inputs": [{"name": "value", "type": "FLOAT", "link": 7,
                                                            "widget": {"name": "value"}}],
         "outputs": [{"name": "FLOAT", "type": "FLOAT", "links": [2]}], "widgets_values": [9.0, 0, "fixed"]},
        {"id": 3, "type": "Add", "mode": 0, "inputs": [{"name": "a", "type": "FLOAT", "link": 1},
                                                        {"name": "b", "type": "FLOAT", "link": 3, "shape": 7}],
         "outputs": [{"name": "FLOAT", "type": "FLOAT", "links": [4]}], "widgets_values": ["sum"]},
        {"id": 5, "type": "Reroute", "mode": 0, "inputs": [{"name": "", "type": "*", "link": 2}],
         "outputs": [{"name": "", "type": "FLOAT", "links": [3]}]},
        {"id": 6, "type": "Add", "mode": 4, "inputs": [{"name": "a", "type": "FLOAT", "link": 4}],
         "outputs": [{"name": "FLOAT", "type": "FLOAT", "links": [5]}], "widgets_values": ["diff"]},
        {"id": 4, "type": "Show", "mode": 0, "inputs": [{"name": "x", "type": "FLOAT", "link": 5}], "outputs": []},
        {"id": 7, "type": "PrimitiveNode", "mode": 0, "inputs": [],
         "outputs": [{"name": "FLOAT", "type": "FLOAT", "links": [7], "widget": {"name": "value"}}],
         "widgets_values": [4.0, "fixed"]},
        {"id": 8, "type": "Number", "mode": 2, "inputs": [], "outputs": [{"name": "FLOAT", "type": "FLOAT", "links": []}],
         "widgets_values": [1.0, 0, "fixed"]},
        {"id": 9, "type": "Note", "mode": 0, "inputs": [], "outputs": [], "widgets_values": ["a note"]},
    ],
    "links": [[1, 1, 0, 3, 0, "FLOAT"], [2, 2, 0, 5, 0, "FLOAT"], [3, 5, 0, 3, 1, "FLOAT"], [4, 3, 0, 6, 0, "FLOAT"],
              [5, 6, 0, 4, 0, "FLOAT"], [7, 7, 0, 2, 0, "FLOAT"]],
}


def test_ui_and_api_formats_give_the_same_prompt_and_result():
    from_ui, workflow = load_prompt(UI, CLASSES)
    from_api, _ = load_prompt(API, CLASSES)
    assert workflow is UI
    assert {k: (v["class_type"], v["inputs"]) for k, v in from_ui.items()} == \
           {k: (v["class_type"], v["inputs"]) for k, v in from_api.items()}
    a, b = Runner(CLASSES).run(from_ui), Runner(CLASSES).run(from_api)
    assert a.ui["4"]["value"] == b.ui["4"]["value"] == [9.0] and a.ui["4"]["node"] == ["4"]


def _problems(prompt):
    return validate(prompt, CLASSES)


@pytest.mark.parametrize("change,code,node,input_name", [
    (lambda p: p["3"].update(class_type="Ad"), "invalid_node_type", "3", None),
    (lambda p: p["3"]["inputs"].pop("a"), "required_input_missing", "3", "a"),
    (lambda p: p["3"]["inputs"].update(a=["99", 0]), "missing_link_source", "3", "a"),
    (lambda p: p["3"]["inputs"].update(a=["1", 5]), "bad_linked_output", "3", "a"),
    (lambda p: p["1"]["inputs"].update(value=11.0), "value_not_valid", "1", "value"),
    (lambda p: p["1"]["inputs"].update(value="abc"), "value_not_valid", "1", "value"),
    (lambda p: p["3"]["inputs"].update(mode="product"), "value_not_valid", "3", "mode"),
    (lambda p: p.update({"5": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8}}}) or
     p["3"]["inputs"].update(b=["5", 0]), "return_type_mismatch", "3", "b"),
    (lambda p: p.pop("4"), "prompt_no_outputs", "", None),
])
def test_each_validation_error_names_node_and_input(change, code, node, input_name):
    prompt = json.loads(json.dumps(API))
    change(prompt)
    problems = _problems(prompt)
    match = [p for p in problems if p.type == code]
    assert match, problems
    assert match[0].node_id == node and match[0].input == input_name


def test_unknown_type_suggests_close_names_and_all_problems_come_at_once():
    prompt = json.loads(json.dumps(API))
    prompt["3"]["class_type"] = "Ad"
    prompt["1"]["inputs"]["value"] = -1.0
    prompt["2"]["inputs"].pop("seed")
    problems = _problems(prompt)
    assert {p.type for p in problems} == {"invalid_node_type", "value_not_valid", "required_input_missing"}
    assert "did you mean Add" in str(problems[[p.type for p in problems].index("invalid_node_type")])


def test_cycle_is_reported():
    prompt = json.loads(json.dumps(API))
    prompt["1"] = {"class_type": "Add", "inputs": {"a": ["3", 0], "mode": "sum"}}
    assert any(p.type == "cycle" for p in _problems(prompt))


def test_rerun_executes_only_downstream_of_a_change():
    runner = Runner(CLASSES)
    prompt = json.loads(json.dumps(API))
    first = runner.run(prompt)
    assert first.executed == ["1", "2", "3", "4"]
    prompt["2"]["inputs"]["value"] = 5.0
    second = runner.run(prompt)
    assert second.executed == ["2", "3", "4"] and second.cached == ["1"]
    assert second.ui["4"]["value"] == [10.0]
    assert runner.run(prompt).executed == []


def test_unreachable_nodes_do_not_run_and_failures_name_the_node():
    CALLS.clear()
    prompt = json.loads(json.dumps(API))
    prompt["9"] = {"class_type": "Number", "inputs": {"value": 7.0, "seed": 0}}
    Runner(CLASSES).run(prompt)
    assert ("Number", 7.0) not in CALLS
    prompt["5"] = {"class_type": "Fails", "inputs": {"x": ["3", 0]}}
    prompt["4"]["inputs"]["x"] = ["5", 0]
    with pytest.raises(NodeFailed) as e:
        Runner(CLASSES).run(prompt)
    assert e.value.to_dict() == {"node_id": "5", "node_type": "Fails", "input": "x", "type": "ValueError",
                                 "message": "Fails: input 'x': must be negative"}


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setitem(PATHS, "input", str(tmp_path / "in"))
    monkeypatch.setitem(PATHS, "output", str(tmp_path / "out"))
    os.makedirs(PATHS["input"])
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[:, :4, 3] = 0  # left half transparent -> mask 1
    Image.fromarray(rgba, "RGBA").save(os.path.join(PATHS["input"], "a.png"))
    return tmp_path


SAVE = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "t/x"}}}


def test_load_image_mask_and_save_never_overwrites(dirs):
    image, mask = CLASSES["LoadImage"]().load_image("a.png")
    assert image.shape == (1, 6, 8, 3) and float(image[0, 0, 0, 0]) == pytest.approx(200 / 255)
    assert mask.shape == (1, 6, 8) and mask[0, :, :4].eq(1).all() and mask[0, :, 4:].eq(0).all()
    first = Runner(CLASSES).run(SAVE).ui["3"]["images"][0]["path"]
    before = open(first, "rb").read()
    second = Runner(CLASSES).run(SAVE).ui["3"]["images"][0]["path"]
    assert first.endswith("x_00001_.png") and second.endswith("x_00002_.png")
    assert open(first, "rb").read() == before
    embedded = json.loads(Image.open(second).info["prompt"])
    assert embedded["3"]["class_type"] == "SaveImage"


@pytest.mark.parametrize("name", ["../a.png", "/etc/passwd", "link.png"])
def test_load_image_refuses_paths_outside_the_input_dir(dirs, name):
    os.symlink("/etc/hostname", os.path.join(PATHS["input"], "link.png"))
    with pytest.raises(ValueError, match="outside the input directory"):
        CLASSES["LoadImage"]().load_image(name)


def test_mask_standins():
    mask = torch.zeros(1, 7, 7)
    mask[0, 3, 3] = 1
    grown, = CLASSES["GrowMask"]().expand_mask(mask, 1, True)
    assert int(grown.sum()) == 5  # a cross
    grown, = CLASSES["GrowMask"]().expand_mask(mask, 1, False)
    assert int(grown.sum()) == 9
    assert torch.equal(CLASSES["InvertMask"]().invert(mask)[0], 1 - mask)
    feathered, = CLASSES["FeatherMask"]().feather(torch.ones(1, 4, 4), 2, 0, 0, 0)
    assert feathered[0, 0].tolist() == [0.5, 1.0, 1.0, 1.0]


def _write(tmp_path, graph, name="g.json"):
    path = tmp_path / name
    path.write_text(json.dumps(graph))
    return str(path)


def test_cli_exit_codes_report_and_events(dirs, capsys):
    graph = _write(dirs, SAVE)
    report = str(dirs / "r.json")
    args = ["run", graph, "--input-dir", PATHS["input"], "--output-dir", PATHS["output"], "--report", report]
    assert main(args + ["--json-progress"]) == 0
    events = [json.loads(line)["type"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert events[0] == "execution_start" and events[-1] == "execution_success" and "executed" in events
    data = json.load(open(report))
    assert data["status"] == "success" and data["outputs"][0].endswith("_00001_.png") and set(data["timings"]) == {"1", "2", "3"}
    bad = json.loads(json.dumps(SAVE))
    bad["2"]["class_type"] = "ImageInvrt"
    bad["3"]["inputs"].pop("filename_prefix")
    assert main(["run", _write(dirs, bad, "bad.json"), "--report", report]) == 2
    errors = json.load(open(report))["errors"]
    assert {(e["node_id"], e["type"]) for e in errors} >= {("2", "invalid_node_type"), ("3", "required_input_missing")}
    assert "ImageInvert" in capsys.readouterr().err
    assert main(args + ["--set", "1.image=\"../../x.png\""]) == 2  # not in the combo of input files
    assert main(args + ["--set", "9.x=1"]) == 2
    assert main(args + ["--device", "cuda"]) == (0 if torch.cuda.is_available() else 2)


def test_runtime_failure_exit_code(dirs):
    graph = {"1": {"class_type": "NoisekitScheduleKarras",
                   "inputs": {"steps": 5, "sigma_min": 5.0, "sigma_max": 1.0, "rho": 7.0}},
             "2": {"class_type": "NoisekitSigmaPlot", "inputs": {"sigmas_1": ["1", 0], "width": 256, "height": 160}},
             "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    report = str(dirs / "r.json")
    assert main(["run", _write(dirs, graph), "--report", report]) == 3
    error = json.load(open(report))["errors"][0]
    assert error["node_id"] == "1" and "sigma_min" in error["message"]

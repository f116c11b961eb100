"""The headless runner: formats, validation, execution and caching, events, CLI.

Built against small fixture node classes (classic ComfyUI API) plus the stand-ins;
the graph in tests/fixtures is saved in both formats."""
import copy
import json
import os
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit import devices, progress
from noisekit.runner import GraphInvalid, NodeFailed, Runner, RunInterrupted, load_prompt, validate
from noisekit.cli import main
from noisekit.runner.convert import workflow_to_prompt
from noisekit.runner.standins import NODE_CLASS_MAPPINGS as STANDINS
from noisekit.runner.standins import PATHS

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
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
        CALLS.append("Number")
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
        CALLS.append("Add")
        return (a + b if mode == "sum" else a - b,)


class Scale:
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "scale"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True}), "factor": ("FLOAT", {"default": 1.0})}}

    def scale(self, x, factor):
        return (x * factor,)


class Show:
    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True}), "label": ("STRING", {"default": ""})},
                "hidden": {"node": "UNIQUE_ID", "prompt": "PROMPT", "extra": "EXTRA_PNGINFO"}}

    def show(self, x, label, node=None, prompt=None, extra=None):
        CALLS.append("Show")
        return {"ui": {"value": [x], "label": [label], "node": [node], "prompt_nodes": [sorted(prompt)],
                       "extra": [extra]}}


class Text:
    RETURN_TYPES = ("STRING",)
    FUNCTION = "text"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": "hi"})}}

    def text(self, text):
        return (text,)


class Fails:
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "go"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True}), "sigma": ("FLOAT", {"default": 1.0})}}

    def go(self, x, sigma):
        raise FloatingPointError(f"NaN in the sampler state at step 3 (sigma {sigma}); lower input 'sigma'")


class Checked:
    """VALIDATE_INPUTS takes `limit` (so its max is not enforced) and the linked `x` (given as None)."""
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "go"
    CATEGORY = "test"
    seen = []

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True}), "limit": ("INT", {"default": 1, "max": 5}),
                             "other": ("INT", {"default": 1, "max": 5})}}

    @classmethod
    def VALIDATE_INPUTS(cls, limit, x, input_types):
        cls.seen.append((limit, x, input_types))
        return True if limit % 2 == 0 else "limit must be even"

    def go(self, x, limit, other):
        return (x * limit,)


class Counter:
    """IS_CHANGED from a module-level value, or NaN ("always run") when it is None."""
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "go"
    CATEGORY = "test"
    state = {"version": 1}

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"default": 0.0})}}

    @classmethod
    def IS_CHANGED(cls, x):
        return float("nan") if cls.state["version"] is None else cls.state["version"]

    def go(self, x):
        CALLS.append("Counter")
        return (x,)


class Split:
    RETURN_TYPES = ("FLOAT",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "go"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"n": ("INT", {"default": 3, "min": 1})}}

    def go(self, n):
        return ([float(i) for i in range(1, n + 1)],)


class Total:
    RETURN_TYPES = ("FLOAT",)
    INPUT_IS_LIST = True
    FUNCTION = "go"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True})}}

    def go(self, x):
        return (sum(x),)


class Steps:
    """Reports per-step progress through noisekit.progress; optionally asks for an interrupt midway."""
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "go"
    CATEGORY = "test"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("FLOAT", {"forceInput": True}), "steps": ("INT", {"default": 3}),
                             "stop_at": ("INT", {"default": -1}), "ctrl_c": ("BOOLEAN", {"default": False})}}

    def go(self, x, steps, stop_at, ctrl_c):
        bar = progress.bar(steps, "steps")
        for i in range(steps):
            if i == stop_at:
                if ctrl_c:
                    os.kill(os.getpid(), signal.SIGINT)  # what a first Ctrl-C does under `noisekit run`
                else:
                    progress.interrupt()
            bar.update(1)
        return (x,)


CLASSES = {c.__name__: c for c in (Number, Add, Scale, Show, Text, Fails, Checked, Counter, Split, Total, Steps)}
CLASSES.update(STANDINS)


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


API = fixture("runner_graph_api.json")
UI = fixture("runner_graph.json")


def api():
    return copy.deepcopy(API)


def shape(prompt):
    return {k: (v["class_type"], v["inputs"]) for k, v in prompt.items()}


# ---------------------------------------------------------------- formats

def test_ui_and_api_formats_give_the_same_prompt_and_results():
    from_ui, workflow = load_prompt(UI, CLASSES)
    from_api, none = load_prompt(API, CLASSES)
    assert workflow is UI and none is None
    # control values skipped, PrimitiveNode value (4.0) wins over the stale widget (9.0), Reroute followed,
    # bypassed Scale passes its FLOAT input through, the muted node's link is gone, notes/groups ignored
    assert shape(from_ui) == shape(from_api)
    assert from_ui["4"]["_meta"]["title"] == "Result"
    a, b = Runner(CLASSES).run(from_ui), Runner(CLASSES).run(from_api)
    assert a.ui["4"]["value"] == b.ui["4"]["value"] == [9.0]  # (2 + 3) + (4 + 0), not scaled by 10
    assert a.ui["10"]["value"] == b.ui["10"]["value"] == [5.0]  # b from the muted node is dropped
    assert a.ui["4"]["node"] == ["4"] and a.ui["4"]["label"] == ["out"]


def test_links_saved_as_objects_are_read_too():
    ui = copy.deepcopy(UI)
    ui["links"] = [dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot", "type"), link))
                   for link in ui["links"]]
    assert shape(load_prompt(ui, CLASSES)[0]) == shape(API)


def _node(nid, kind, inputs=(), outputs=(), widgets=None, mode=0):
    node = {"id": nid, "type": kind, "mode": mode,
            "inputs": [{"name": n, "type": t, "link": link} for n, t, link in inputs],
            "outputs": [{"name": t, "type": t, "links": []} for t in outputs]}
    if widgets is not None:
        node["widgets_values"] = widgets
    return node


class Pick:
    RETURN_TYPES = ("FLOAT",)
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"s": ("STRING", {"forceInput": True}), "x": ("FLOAT", {"forceInput": True})}}


def test_bypassed_node_passes_the_input_of_the_wanted_type():
    classes = {**CLASSES, "Pick": Pick}
    nodes = [_node(1, "Text", outputs=["STRING"], widgets=["t"]), _node(2, "Number", outputs=["FLOAT"],
                                                                      widgets=[1.0, 0, "fixed"]),
             _node(3, "Pick", [("s", "STRING", 1), ("x", "FLOAT", 2)], ["FLOAT"], mode=4),
             _node(4, "Show", [("x", "FLOAT", 3)], widgets=["l"])]
    links = [[1, 1, 0, 3, 0, "STRING"], [2, 2, 0, 3, 1, "FLOAT"], [3, 3, 0, 4, 0, "FLOAT"]]
    prompt = workflow_to_prompt({"nodes": nodes, "links": links}, classes)
    assert prompt["4"]["inputs"]["x"] == ["2", 0] and "3" not in prompt
    nodes[2]["inputs"][1]["link"] = None  # no FLOAT input connected: the consumer's input is left unset
    prompt = workflow_to_prompt({"nodes": nodes, "links": links[:1] + links[2:]}, classes)
    assert "x" not in prompt["4"]["inputs"]
    assert [p.type for p in validate(prompt, classes)] == ["required_input_missing"]


class Widgets:
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {}), "seed": ("INT", {}), "flagged": ("INT", {"control_after_generate": True}),
                             "image": ("IMAGE",), "name": ("STRING", {}), "pick": ("COMBO", {"options": ["a", "b"]})},
                "optional": {"noise_seed": ("INT", {}), "strength": ("FLOAT", {"forceInput": True}), "on": ("BOOLEAN", {})}}


def test_widget_values_map_in_input_order_skipping_control_values():
    node = _node(1, "Widgets", widgets=[20, 7, "randomize", 3, "increment", "fixed", "b", 11, "fixed", True, "image"])
    warnings = []
    prompt = workflow_to_prompt({"nodes": [node], "links": []}, {"Widgets": Widgets}, warn=warnings.append)
    # "fixed" after `name` is the STRING's own value; the trailing "image" is one more than the widgets: dropped
    assert prompt["1"]["inputs"] == {"steps": 20, "seed": 7, "flagged": 3, "name": "fixed", "pick": "b",
                                     "noise_seed": 11, "on": True}
    assert warnings == ['node 1 (Widgets) 1 widget value(s) more than its widgets, dropped: "image"']


def test_api_literal_lists_links_and_shape_errors():
    prompt, _ = load_prompt({"1": {"class_type": "Number", "inputs": {"value": {"__value__": [1, 2]}, "seed": 0}},
                             "2": {"class_type": "Show", "inputs": {"x": [1, 0], "label": "x"}}}, CLASSES)
    assert prompt["1"]["inputs"]["value"] == {"__value__": [1, 2]} and prompt["2"]["inputs"]["x"] == ["1", 0]
    problem = _one(prompt, "invalid_input_type")  # a list is a literal here, not a link
    assert (problem.node_id, problem.input) == ("1", "value") and "[1, 2]" in problem.message
    with pytest.raises(ValueError, match="not a ComfyUI graph"):
        load_prompt({"nodes": "x"}, CLASSES)


# ---------------------------------------------------------------- validation

def _one(prompt, code):
    problems = validate(prompt, CLASSES)
    found = [p for p in problems if p.type == code]
    assert found, problems
    return found[0]


@pytest.mark.parametrize("change,code,node,input_name,words", [
    (lambda p: p["3"].update(class_type="Ad"), "invalid_prompt", "3", None, "did you mean Add"),
    (lambda p: p["3"]["inputs"].pop("a"), "required_input_missing", "3", "a", "missing"),
    (lambda p: p["3"]["inputs"].update(a=["99", 0]), "bad_linked_input", "3", "a", "node 99"),
    (lambda p: p["3"]["inputs"].update(a=["1", 5]), "bad_linked_input", "3", "a", "output 5"),
    (lambda p: p["3"]["inputs"].update(a=["1", 0, 2]), "bad_linked_input", "3", "a", "[node_id, output_index]"),
    (lambda p: p.update({"5": {"class_type": "Text", "inputs": {"text": "t"}}}) or p["3"]["inputs"].update(b=["5", 0]),
     "return_type_mismatch", "3", "b", "gives STRING"),
    (lambda p: p["1"]["inputs"].update(value=-1), "value_smaller_than_min", "1", "value", "minimum 0.0"),
    (lambda p: p["1"]["inputs"].update(value=11.0), "value_bigger_than_max", "1", "value", "maximum 10.0"),
    (lambda p: p["1"]["inputs"].update(value="abc"), "invalid_input_type", "1", "value", "a number"),
    (lambda p: p["1"]["inputs"].update(seed=2.5), "invalid_input_type", "1", "seed", "an integer"),
    (lambda p: p["4"]["inputs"].update(label={"a": 1}), "invalid_input_type", "4", "label", "text"),
    (lambda p: p["3"]["inputs"].update(mode="sun"), "value_not_in_list", "3", "mode", "did you mean 'sum'"),
    (lambda p: p.update({"6": {"class_type": "SaveImage", "inputs": {"images": "x.png", "filename_prefix": "a"}}}),
     "invalid_input_type", "6", "images", "takes a link"),
    (lambda p: p["1"].update(class_type="Add", inputs={"a": ["3", 0], "mode": "sum"}), "dependency_cycle", "1", None,
     "1 -> 3 -> 1"),
    (lambda p: [p.pop(k) for k in ("4", "10")], "prompt_no_outputs", None, None, "no output node"),
])
def test_each_validation_error_names_node_and_input(change, code, node, input_name, words):
    prompt = api()
    change(prompt)
    problem = _one(prompt, code)
    assert (problem.node_id, problem.input) == (node, input_name)
    assert words in problem.message
    if node is not None:
        assert str(problem).startswith(f"node {node} ({prompt[node]['class_type']})")


def test_every_problem_is_reported_at_once():
    prompt = api()
    prompt["3"]["class_type"] = "Ad"
    prompt["1"]["inputs"]["value"] = 20
    prompt["2"]["inputs"].pop("seed")
    prompt["10"]["inputs"]["label"] = 5  # fine: numbers become text, as ComfyUI's str()
    prompt["9"]["inputs"]["mode"] = "product"
    with pytest.raises(GraphInvalid) as e:
        Runner(CLASSES).run(prompt)
    got = {(p.node_id, p.input, p.type) for p in e.value.problems}
    assert got == {("3", None, "invalid_prompt"), ("1", "value", "value_bigger_than_max"),
                   ("2", "seed", "required_input_missing"), ("9", "mode", "value_not_in_list")}


def test_validate_inputs_is_honoured_as_comfyui_does():
    prompt = api()
    prompt["5"] = {"class_type": "Checked", "inputs": {"x": ["1", 0], "limit": 8, "other": 2}}
    prompt["4"]["inputs"]["x"] = ["5", 0]
    Checked.seen.clear()
    assert validate(prompt, CLASSES) == []  # limit 8 > max 5 is allowed: VALIDATE_INPUTS takes it
    assert Checked.seen == [(8, None, {"x": "FLOAT"})]  # the linked x arrives as None, with its type
    prompt["5"]["inputs"].update(limit=3, other=9)
    problems = {(p.input, p.type): p.message for p in validate(prompt, CLASSES)}
    assert set(problems) == {("limit", "custom_validation_failed"), ("x", "custom_validation_failed"),
                             ("other", "value_bigger_than_max")}
    assert "limit must be even" in problems[("limit", "custom_validation_failed")]


def test_nodes_that_feed_no_output_are_neither_validated_nor_run():
    prompt = api()
    prompt["13"]["inputs"]["value"] = 99.0  # out of range, but node 13 feeds nothing (ComfyUI ignores it)
    CALLS.clear()
    result = Runner(CLASSES).run(prompt)
    assert "13" not in result.executed and CALLS.count("Number") == 2


# ---------------------------------------------------------------- execution

def test_rerun_executes_only_the_nodes_downstream_of_a_change():
    runner, prompt = Runner(CLASSES), api()
    first = runner.run(prompt)
    assert sorted(first.executed, key=int) == ["1", "2", "3", "4", "9", "10"] and first.cached == []
    prompt["2"]["inputs"]["value"] = 5.0
    second = runner.run(prompt)
    assert second.executed == ["2", "3", "4"] and sorted(second.cached) == ["1", "10", "9"]
    assert second.ui["4"]["value"] == [10.0] and second.ui["10"]["value"] == [5.0]  # cached ui still reported
    assert runner.run(prompt).executed == []
    prompt["2"]["inputs"]["value"] = 5  # the same value after conversion to FLOAT: still cached
    assert runner.run(prompt).executed == []


def test_is_changed_controls_reexecution():
    runner, prompt = Runner(CLASSES), api()
    prompt["5"] = {"class_type": "Counter", "inputs": {"x": 1.5}}
    prompt["6"] = {"class_type": "Show", "inputs": {"x": ["5", 0], "label": "c"}}
    Counter.state["version"] = 1
    assert "5" in runner.run(prompt).executed
    assert "5" not in runner.run(prompt).executed
    Counter.state["version"] = 2
    assert runner.run(prompt).executed == ["5", "6"]
    Counter.state["version"] = None  # NaN: always run
    assert runner.run(prompt).executed == ["5", "6"] and runner.run(prompt).executed == ["5", "6"]


def test_output_lists_map_over_downstream_nodes():
    prompt = {"1": {"class_type": "Split", "inputs": {"n": 3}},
              "2": {"class_type": "Scale", "inputs": {"x": ["1", 0], "factor": 2.0}},  # called once per item
              "3": {"class_type": "Total", "inputs": {"x": ["2", 0]}},  # INPUT_IS_LIST: one call with all
              "4": {"class_type": "Show", "inputs": {"x": ["2", 0], "label": "each"}},
              "5": {"class_type": "Show", "inputs": {"x": ["3", 0], "label": "sum"}}}
    result = Runner(CLASSES).run(prompt)
    assert result.outputs["2"] == ([2.0, 4.0, 6.0],) and result.outputs["3"] == (12.0,)
    assert result.ui["4"]["value"] == [2.0, 4.0, 6.0] and result.ui["5"]["value"] == [12.0]


def test_hidden_inputs_and_node_failures():
    prompt = api()
    result = Runner(CLASSES).run(prompt, {"workflow": {"w": 1}})
    assert result.ui["4"]["prompt_nodes"] == [sorted(prompt)] and result.ui["4"]["extra"] == [{"workflow": {"w": 1}}]
    prompt["5"] = {"class_type": "Fails", "inputs": {"x": ["3", 0], "sigma": 2.0}}
    prompt["4"]["inputs"]["x"] = ["5", 0]
    events = []
    with pytest.raises(NodeFailed) as e:
        Runner(CLASSES, on_event=lambda t, d: events.append((t, d))).run(prompt)
    assert e.value.to_dict() == {"node_id": "5", "node_type": "Fails", "input": "sigma", "type": "FloatingPointError",
                                 "message": "NaN in the sampler state at step 3 (sigma 2.0); lower input 'sigma'"}
    assert "3" in e.value.result.executed  # the partial run, for the report
    kind, data = events[-1]
    assert kind == "execution_error" and (data["node_id"], data["node_type"]) == ("5", "Fails")
    assert data["exception_message"].startswith("NaN in the sampler state")


def test_event_sequence_is_shaped_like_comfyui():
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 1.0, "seed": 0}},
              "2": {"class_type": "Steps", "inputs": {"x": ["1", 0], "steps": 2, "stop_at": -1, "ctrl_c": False}},
              "3": {"class_type": "Show", "inputs": {"x": ["2", 0], "label": "p"}}}
    events = []
    runner = Runner(CLASSES, on_event=lambda t, d: events.append((t, d)))
    result = runner.run(prompt, prompt_id="p1")
    assert [(t, d.get("node")) for t, d in events] == [
        ("execution_start", None), ("execution_cached", None), ("executing", "1"), ("executing", "2"),
        ("progress", "2"), ("progress", "2"), ("executing", "3"), ("executed", "3"), ("execution_success", None),
        ("executing", None)]
    assert [(d["value"], d["max"]) for t, d in events if t == "progress"] == [(1, 2), (2, 2)]
    assert all(d["prompt_id"] == "p1" for _, d in events) and result.prompt_id == "p1"
    events.clear()
    runner.run(prompt, prompt_id="p2")
    assert events[1] == ("execution_cached", {"nodes": ["1", "2", "3"], "prompt_id": "p2"})


def test_interrupt_stops_between_steps_and_nodes():
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 1.0, "seed": 0}},
              "2": {"class_type": "Steps", "inputs": {"x": ["1", 0], "steps": 5, "stop_at": 2, "ctrl_c": False}},
              "3": {"class_type": "Show", "inputs": {"x": ["2", 0], "label": "p"}}}
    events = []
    CALLS.clear()
    with pytest.raises(RunInterrupted) as e:
        Runner(CLASSES, on_event=lambda t, d: events.append((t, d))).run(prompt)
    assert (e.value.node_id, e.value.executed) == ("2", ["1"]) and "Show" not in CALLS
    assert [d["value"] for t, d in events if t == "progress"] == [1, 2]  # stopped before step 3
    assert events[-1][0] == "execution_interrupted" and events[-1][1]["node_id"] == "2"


def test_device_context():
    assert str(devices.get_device()) == "cpu"
    with devices.use_device("cpu") as device:
        assert device == torch.device("cpu") == devices.get_device()
    with pytest.raises(ValueError, match="unknown device"):
        devices.check_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            devices.check_device("cuda")


# ---------------------------------------------------------------- CLI

@pytest.fixture
def dirs(tmp_path, monkeypatch):
    for key in ("input", "output", "temp"):
        monkeypatch.setitem(PATHS, key, str(tmp_path / key))
    os.makedirs(PATHS["input"])
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    Image.fromarray(rgba, "RGBA").save(os.path.join(PATHS["input"], "a.png"))
    return tmp_path


SAVE = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "t/x"}}}


def _write(tmp_path, graph, name="g.json"):
    path = tmp_path / name
    path.write_text(json.dumps(graph))
    return str(path)


def _cli(dirs, graph, *extra, name="g.json"):
    report = str(dirs / "report.json")
    if os.path.exists(report):  # a report is never replaced
        os.unlink(report)
    code = main(["run", _write(dirs, graph, name), "--input-dir", PATHS["input"], "--output-dir", PATHS["output"],
                 "--report", report, *extra])
    return code, json.load(open(report))


def test_cli_success_report_and_json_progress(dirs, capsys):
    code, report = _cli(dirs, SAVE, "--json-progress", "--set", "3.filename_prefix=run")
    assert code == 0 and report["status"] == "success"
    out = os.path.join(PATHS["output"], "run_00001_.png")
    assert report["outputs"] == [out] and set(report["timings"]) == {"1", "2", "3"}
    assert report["nodes"]["1"] == {"type": "LoadImage", "status": "executed", "seconds": report["timings"]["1"],
                                    "standin": True}
    assert report["standins"] == ["ImageInvert", "LoadImage", "SaveImage"] and report["errors"] == []
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["type"] for e in lines] == ["execution_start", "execution_cached", "executing", "executing",
                                          "executing", "executed", "execution_success", "executing"]
    assert lines[5]["data"]["output"]["images"][0]["filename"] == "run_00001_.png"
    saved = np.asarray(Image.open(out))
    # 255 * (1 - 200/255) is 54.99998 in float32; ComfyUI truncates to 54 (rounding would give 55)
    assert saved.shape == (6, 8, 3) and (saved[..., 0] == 54).all() and (saved[..., 1] == 255).all()
    embedded = json.loads(Image.open(out).info["prompt"])
    assert embedded["3"]["inputs"]["filename_prefix"] == "run"
    # the saved PNG is itself a graph the runner can run again
    assert main(["run", out, "--input-dir", PATHS["input"], "--output-dir", PATHS["output"]]) == 0
    assert os.path.exists(os.path.join(PATHS["output"], "run_00002_.png"))


def test_cli_invalid_graph_lists_every_problem(dirs, capsys):
    bad = copy.deepcopy(SAVE)
    bad["2"]["class_type"] = "ImageInvrt"
    bad["3"]["inputs"].pop("filename_prefix")
    bad["1"]["inputs"]["image"] = "../secret.png"
    code, report = _cli(dirs, bad)
    assert code == 2 and report["status"] == "invalid"
    assert {(e["node_id"], e["node_type"], e["input"], e["type"]) for e in report["errors"]} == {
        ("2", "ImageInvrt", None, "invalid_prompt"), ("3", "SaveImage", "filename_prefix", "required_input_missing"),
        ("1", "LoadImage", "image", "custom_validation_failed")}
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and "did you mean ImageInvert" in err and "outside the input directory" in err
    assert not os.path.exists(PATHS["output"])  # nothing ran


@pytest.mark.parametrize("extra,words", [(["--set", "9.x=1"], "no node '9'"),
                                         (["--set", "3.prefix=a"], "has no input 'prefix'"),
                                         (["--set", "3"], "NODE_ID.INPUT=VALUE"),
                                         (["--device", "tpu"], "unknown device")])
def test_cli_bad_options_are_invalid(dirs, capsys, extra, words):
    code, report = _cli(dirs, SAVE, *extra)
    assert code == 2 and words in report["errors"][0]["message"] and words in capsys.readouterr().err


def test_cli_set_parses_json_else_text(dirs):
    code, report = _cli(dirs, SAVE, "--set", '3.filename_prefix="007"', "--set", "1.image=a.png")
    assert code == 0 and report["outputs"][0].endswith("007_00001_.png")


def test_cli_runtime_failure_and_interrupt_exit_codes(dirs, monkeypatch):
    import noisekit.runner.cli as runner_cli
    import noisekit.runner.engines as engines

    monkeypatch.setattr(runner_cli, "default_node_classes", lambda: CLASSES)
    monkeypatch.setattr(engines, "default_node_classes", lambda: CLASSES)  # the engine's node classes
    graph = {"1": {"class_type": "Number", "inputs": {"value": 1.0, "seed": 0}},
             "2": {"class_type": "Fails", "inputs": {"x": ["1", 0], "sigma": 0.5}},
             "3": {"class_type": "Show", "inputs": {"x": ["2", 0], "label": "f"}}}
    code, report = _cli(dirs, graph)
    assert code == 3 and report["status"] == "failed" and report["executed"] == ["1"]
    assert report["errors"] == [{"node_id": "2", "node_type": "Fails", "input": "sigma", "type": "FloatingPointError",
                                 "message": "NaN in the sampler state at step 3 (sigma 0.5); lower input 'sigma'"}]
    graph["2"] = {"class_type": "Steps", "inputs": {"x": ["1", 0], "steps": 4, "stop_at": 1, "ctrl_c": True}}
    graph["4"] = {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "never"}}
    graph["5"] = {"class_type": "EmptyImage", "inputs": {"width": 4, "height": 4, "batch_size": 1, "color": 0}}
    graph["3"]["inputs"]["x"] = ["2", 0]
    before = signal.getsignal(signal.SIGINT)
    code, report = _cli(dirs, graph)
    assert code == 130 and report["status"] == "interrupted"
    assert report["errors"][0]["type"] == "execution_interrupted" and report["errors"][0]["node_id"] == "2"
    assert not os.path.exists(os.path.join(PATHS["output"], "never_00001_.png"))
    assert signal.getsignal(signal.SIGINT) is before  # the Ctrl-C handler was restored


def test_cli_runs_the_ui_fixture_and_lists_nodes(dirs, monkeypatch, capsys):
    import noisekit.runner.cli as runner_cli
    import noisekit.runner.engines as engines

    monkeypatch.setattr(runner_cli, "default_node_classes", lambda: CLASSES)
    monkeypatch.setattr(engines, "default_node_classes", lambda: CLASSES)  # the engine's node classes
    code, report = _cli(dirs, UI)
    assert code == 0 and sorted(report["executed"], key=int) == ["1", "2", "3", "4", "9", "10"]
    assert main(["nodes"]) == 0
    assert "SaveImage" in capsys.readouterr().out  # the listing includes the stand-ins

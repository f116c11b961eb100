"""Generated bad input (issue 15): API and UI graphs built from the real node declarations and then
broken, safetensors files and pictures that are truncated, flipped, of every mode, 1x1, 16-bit or of
a huge declared size. Every case asserts the same properties of the ``noisekit`` command:

- the exit code is 0, 2, 3 or 130, and the output holds no traceback and no "internal error";
- it finishes within a bound;
- nothing is written outside the output folder and the run's private temp folder, and no file that
  existed is changed (a report or an output path that names one is refused);
- no partial or temp file is left;
- an image written with exit 0 is neither non-finite nor constant garbage.

Profiles: "ci" (the default, well under two minutes) and "long" for local runs:
``NOISEKIT_FUZZ=long python -m pytest tests/runner/test_fuzz.py``.
"""
import contextlib
import functools
import io
import json
import os
import struct
import tempfile
import time
import zlib
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from noisekit.cli import main
from noisekit.models.loader import save_model
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser
from noisekit.photo.files import encode_png16
from noisekit.runner.convert import WIDGET_TYPES, widget_inputs
from noisekit.runner.execute import default_node_classes
from noisekit.runner.standins import PATHS
from noisekit.runner.validate import declared_inputs

settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("long", max_examples=300, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
PROFILE = settings.get_profile(os.environ.get("NOISEKIT_FUZZ", "ci"))
BOUND_SECONDS = 90  # a case on a loaded 2-core CI machine; the slowest legitimate ones take a few seconds
CLASSES = default_node_classes()
NAMES = sorted(n for n in CLASSES if n != "NoisekitLoadModel")  # model building is fuzzed through the files
CONSTANT_SOURCES = {"EmptyImage", "SolidMask", "EmptyLatentImage"}
TINY = UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4)


@pytest.fixture(scope="module")
def tiny_model_bytes(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "tiny.safetensors"
    save_model(EDMDenoiser(UNet(TINY)), str(path))
    return path.read_bytes()


@contextlib.contextmanager
def sandbox():
    """A folder with input/ (three small pictures), the run's temp root, a 256 MB memory budget, PATHS kept."""
    saved = dict(PATHS)
    with tempfile.TemporaryDirectory() as root, mock.patch.dict(os.environ, {"NOISEKIT_MEMORY_BUDGET": "256M"}), \
            mock.patch.object(tempfile, "tempdir", os.path.join(root, "tmp")):
        os.makedirs(os.path.join(root, "tmp"))
        os.makedirs(os.path.join(root, "input"))
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(os.path.join(root, "input", "a.png"))
        Image.fromarray(rng.integers(0, 256, (12, 20), dtype=np.uint8)).save(os.path.join(root, "input", "g.png"))
        Image.fromarray(rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)).save(os.path.join(root, "input", "t.png"))
        try:
            yield root
        finally:
            PATHS.update(saved)


def files_under(root) -> set:
    return {os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}


def contents(root) -> dict:
    return {path: open(path, "rb").read() for path in files_under(root)}


def check_command(root, argv, allowed=("out", "tmp"), constant_ok=False, pictures=True) -> int:
    """Run ``noisekit ARGV`` in-process and assert the properties in the module docstring."""
    before = contents(root)
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse refusing an option
            code = e.code
    elapsed = time.perf_counter() - start
    text = out.getvalue() + err.getvalue()
    assert code in (0, 2, 3, 130), text
    assert "Traceback" not in text and "internal error" not in text, text
    assert elapsed < BOUND_SECONDS, f"{argv} took {elapsed:.0f} s"
    new = files_under(root) - set(before)
    places = tuple(os.path.join(root, a) + os.sep for a in allowed)
    assert all(f.startswith(places) for f in new), f"written outside the output folder: {sorted(new)}"
    changed = [path for path, data in before.items() if not os.path.isfile(path) or open(path, "rb").read() != data]
    assert not changed, f"a file that existed was replaced or removed: {changed}"
    assert not [f for f in files_under(root) if f.endswith(".tmp")], "a temp file was left"
    for path in new if pictures else ():
        if code == 0 and path.endswith((".png", ".jpg")):
            values = np.asarray(Image.open(path)).astype(np.float64)
            assert np.isfinite(values).all()
            assert constant_ok or values.size <= 4 or values.std() > 0, f"{path} is one flat colour"
    return code


# ---------------------------------------------------------------- graphs from the node declarations

def widget_value(kind, opts):
    if isinstance(kind, list):
        return st.one_of(st.sampled_from(kind or [""]), st.text(max_size=8))
    lo, hi = opts.get("min", -(2**31)), opts.get("max", 2**31)
    if kind == "INT":
        lo, hi = int(lo), int(hi)
        return st.one_of(st.just(opts.get("default", lo)), st.integers(lo, min(hi, lo + 40)), st.just(hi),
                         st.just(lo - 1), st.just(hi + 1))
    if kind == "FLOAT":
        return st.one_of(st.just(opts.get("default", lo)), st.floats(float(lo), float(hi)),
                         st.sampled_from([float(hi) * 2 + 1, "1e400", "nan"]))
    if kind == "BOOLEAN":
        return st.booleans()
    return st.one_of(st.just(opts.get("default", "")), st.text(max_size=12))


@st.composite
def api_graphs(draw):
    """A graph of 0-4 random nodes after a LoadImage, their inputs drawn from the declarations and their
    links from earlier outputs of the declared type, ending in SaveImage or PreviewImage."""
    graph = {"1": {"class_type": "LoadImage", "inputs": {"image": draw(st.sampled_from(["a.png", "g.png", "t.png"]))}}}
    outputs = [("1", 0, "IMAGE"), ("1", 1, "MASK")]
    for i in range(2, 2 + draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(NAMES))
        cls, inputs = CLASSES[kind], {}
        for name, (type_, opts, section) in declared_inputs(cls.INPUT_TYPES()).items():
            if section == "optional" and draw(st.booleans()):
                continue
            if isinstance(type_, list) or type_ in WIDGET_TYPES:
                inputs[name] = draw(widget_value(type_, opts))
            elif fitting := [[n, k] for n, k, t in outputs if t == type_]:
                inputs[name] = draw(st.sampled_from(fitting))
        graph[str(i)] = {"class_type": kind, "inputs": inputs}
        outputs += [(str(i), k, t) for k, t in enumerate(cls.RETURN_TYPES)]
    source = draw(st.sampled_from([[n, k] for n, k, t in outputs if t == "IMAGE"]))
    saver = draw(st.sampled_from(["SaveImage", "PreviewImage"]))
    prefix = draw(st.sampled_from(["x", "sub/x", "../x", "/abs/x", "%width%_x", "a\x00b"]))
    graph[str(len(graph) + 1)] = {"class_type": saver, "inputs": {"images": source, "filename_prefix": prefix}}
    return graph


BAD_VALUES = [[], [1], ["999", 0], ["1", 99], ["1", -1], "x", {"a": 1}, 10**400, "a\x00b", None, True,
              json.loads("[" * 150 + "]" * 150)]


@st.composite
def api_mutations(draw, graph):
    """One of the ways issue 15 broke API graphs."""
    graph = json.loads(json.dumps(graph))
    node_id = draw(st.sampled_from(sorted(graph)))
    how = draw(st.sampled_from(["class_type", "node", "inputs", "value", "drop", "none"]))
    if how == "class_type":
        graph[node_id]["class_type"] = draw(st.sampled_from([["SaveImage"], 5, None, {"a": 1}]))
    elif how == "node":
        graph[node_id] = draw(st.sampled_from([5, "x", [], None]))
    elif how == "inputs":
        graph[node_id]["inputs"] = draw(st.sampled_from([5, "x", [1, 2]]))
    elif how in ("value", "drop") and graph[node_id]["inputs"]:
        name = draw(st.sampled_from(sorted(graph[node_id]["inputs"])))
        if how == "drop":
            del graph[node_id]["inputs"][name]
        else:
            graph[node_id]["inputs"][name] = draw(st.sampled_from(BAD_VALUES))
    return graph


def to_ui(graph: dict) -> dict:
    """The UI workflow the frontend would save for an API graph (ids must be numbers)."""
    nodes, links = [], []
    for node_id, node in graph.items():
        cls, inputs = CLASSES[node["class_type"]], []
        declared = declared_inputs(cls.INPUT_TYPES())
        values = []
        for name, control in widget_inputs(cls):
            values.append(node["inputs"].get(name, declared[name][1].get("default")))
            if control:
                values.append("fixed")
        for name, value in node["inputs"].items():
            if isinstance(value, list) and name in declared and not (isinstance(declared[name][0], list)
                                                                     or declared[name][0] in WIDGET_TYPES):
                links.append([len(links) + 1, int(value[0]), value[1], int(node_id), len(inputs), declared[name][0]])
                inputs.append({"name": name, "type": declared[name][0], "link": len(links)})
        nodes.append({"id": int(node_id), "type": node["class_type"], "mode": 0, "inputs": inputs,
                      "outputs": [{"name": t, "type": t} for t in cls.RETURN_TYPES], "widgets_values": values})
    return {"nodes": nodes, "links": links, "version": 0.4}


@st.composite
def ui_mutations(draw, workflow):
    """One of the ways issue 15 broke UI workflows."""
    workflow = json.loads(json.dumps(workflow))
    index = draw(st.integers(0, len(workflow["nodes"]) - 1))
    node = workflow["nodes"][index]
    how = draw(st.sampled_from(["widgets", "links", "link", "nodes", "name", "duplicate", "mode", "none"]))
    if how == "widgets":
        node["widgets_values"] = draw(st.sampled_from([5, "x", None, {"a": 1}, [[[1]]]]))
    elif how == "links":
        workflow["links"] = draw(st.sampled_from([5, "x", {"a": 1}, [5], [[1]], [{"id": 1}], [[1, 2, "x", 1, 0, "IMAGE"]]]))
    elif how == "link" and workflow["links"]:
        workflow["links"][0] = draw(st.sampled_from([{"id": 1, "origin_id": 1, "origin_slot": 0}, [1, 99, 0],
                                                     [None, 1, 0], [1, 1, -1], "x"]))
    elif how == "nodes":
        workflow["nodes"][index] = draw(st.sampled_from([5, "x", None, []]))
    elif how == "name" and node["inputs"]:
        del node["inputs"][0]["name"]
    elif how == "duplicate" and len(workflow["nodes"]) > 1:
        node["id"] = workflow["nodes"][index - 1]["id"]
    elif how == "mode":
        node["mode"] = draw(st.sampled_from([2, 4, "x", -1]))
    return workflow


def run_graph(root, text, graph):
    path = os.path.join(root, "graph.json")
    with open(path, "w") as f:
        f.write(text)
    constant = any(isinstance(n, dict) and str(n.get("class_type")) in CONSTANT_SOURCES for n in graph.values())
    check_command(root, ["run", path, "--output-dir", os.path.join(root, "out"), "--input-dir",
                         os.path.join(root, "input"), "--report", os.path.join(root, "out", "report.json")],
                  constant_ok=constant)


@settings(PROFILE)
@given(st.data())
def test_fuzz_api_graphs(data):
    graph = data.draw(api_graphs())
    graph = data.draw(api_mutations(graph))
    text = json.dumps(graph)
    if data.draw(st.booleans()):  # a node id given twice: the JSON reader must not keep the last silently
        text = text[:-1] + ', "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}}}'
    with sandbox() as root:
        run_graph(root, text, graph)


@settings(PROFILE)
@given(st.data())
def test_fuzz_ui_workflows(data):
    graph = data.draw(api_graphs())
    workflow = data.draw(ui_mutations(to_ui(graph)))
    with sandbox() as root:
        run_graph(root, json.dumps(workflow), graph)


# ---------------------------------------------------------------- weights files and pictures

@settings(PROFILE)
@given(st.data())
def test_fuzz_weights_files(tiny_model_bytes, data):
    raw = bytearray(tiny_model_bytes)
    how = data.draw(st.sampled_from(["truncate", "flip", "nan", "header", "length"]))
    (n,) = struct.unpack("<Q", raw[:8])
    if how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(8, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "nan":
        start = data.draw(st.integers(8 + n, len(raw) - 2))
        raw[start:start + 2] = b"\x00\x7e"  # an fp16 NaN
    elif how == "header":
        header = json.dumps(data.draw(st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                                   lambda c: st.lists(c, max_size=3) | st.dictionaries(
                                                       st.text(max_size=5), c, max_size=3)))).encode()
        raw = bytearray(struct.pack("<Q", len(header)) + header + raw[8 + n:])
    else:
        raw[:8] = struct.pack("<Q", data.draw(st.sampled_from([0, 7, len(raw), 2**40, 2**64 - 1])))
    with sandbox() as root:
        os.makedirs(os.path.join(root, "out"))
        model = os.path.join(root, "input", "m.safetensors")
        with open(model, "wb") as f:
            f.write(raw)
        check_command(root, ["denoise", os.path.join(root, "input", "a.png"), os.path.join(root, "out", "o.png"),
                             "--model", model, "--sigma", "20"])


def png_with_size(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header declares width x height (the data is one short IDAT)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@st.composite
def picture_files(draw):
    """(file name, bytes) of a picture in any mode a user meets, 1x1 to 40x40, maybe truncated or huge."""
    how = draw(st.sampled_from(["mode", "mode", "mode", "16bit", "truncated", "huge", "garbage"]))
    if how == "huge":
        return "h.png", png_with_size(draw(st.sampled_from([12000, 60000, 2**31 - 1])), 12000)
    if how == "garbage":
        return "x.png", draw(st.binary(max_size=64))
    w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    pixels = np.random.default_rng(draw(st.integers(0, 9))).integers(0, 256, (h, w, 3), dtype=np.uint8)
    if how == "16bit":
        return "p.png", encode_png16(pixels.astype(np.uint16) * 257)
    mode = draw(st.sampled_from(["1", "L", "LA", "I;16", "P", "RGB", "RGBA", "CMYK"]))
    image = Image.fromarray(pixels).convert("L").convert(mode) if mode in ("1", "L", "LA", "I;16") \
        else Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image.save(buffer, format=fmt)
    data = buffer.getvalue()
    if how == "truncated":
        data = data[:draw(st.integers(0, len(data) - 1))]
    return "p.jpg" if fmt == "JPEG" else "p.png", data


@settings(PROFILE)
@given(picture_files(), st.sampled_from(["denoise", "inpaint", "run"]))
def test_fuzz_pictures(tiny_model_bytes, picture, command):
    name, data = picture
    with sandbox() as root:
        os.makedirs(os.path.join(root, "out"))
        src, model = os.path.join(root, "input", name), os.path.join(root, "input", "m.safetensors")
        with open(src, "wb") as f:
            f.write(data)
        with open(model, "wb") as f:
            f.write(tiny_model_bytes)
        out = os.path.join(root, "out", "o.png")
        if command == "denoise":
            check_command(root, ["denoise", src, out, "--model", model])
        elif command == "inpaint":
            check_command(root, ["inpaint", src, src, out, "--model", model, "--steps", "2"], constant_ok=True)
        else:
            graph = {"1": {"class_type": "LoadImage", "inputs": {"image": name}},
                     "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
            path = os.path.join(root, "g.json")
            with open(path, "w") as f:
                json.dump(graph, f)
            check_command(root, ["run", path, "--output-dir", os.path.join(root, "out"), "--input-dir",
                                 os.path.join(root, "input")], constant_ok=True)


# ---------------------------------------------------------------- report and output paths that collide

PLACES = ["graph.json", "input/a.png", "input", "out/x_00001_.png", "out/x_00002_.png", "out", "out/report.json",
          "out/sub/r.json", "graph.json/r.json", "tmp"]


@settings(PROFILE)
@given(st.sampled_from(PLACES), st.sampled_from(["out", "input", "graph.json", "out/x_00001_.png"]),
       st.sampled_from(["run", "over", "convert"]))
def test_fuzz_report_and_output_paths(report, output_dir, how):
    """The report (or convert's -o) and the output folder named after the graph, an input, an output of an
    earlier run, the name this run saves to, a folder: refused, or written new; nothing that existed changes."""
    graph = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
             "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
    with sandbox() as root:
        with open(os.path.join(root, "graph.json"), "w") as f:
            json.dump(to_ui(graph) if how == "convert" else graph, f)
        os.makedirs(os.path.join(root, "out"))
        Image.new("RGB", (4, 4)).save(os.path.join(root, "out", "x_00001_.png"))
        at = functools.partial(os.path.join, root)
        if how == "convert":
            argv = ["convert", at("graph.json"), "-o", at(report)]
        else:
            argv = ["run", at("graph.json"), "--output-dir", at(output_dir), "--input-dir", at("input"),
                    "--report", at(report)] + (["--over", at("input"), "--workers", "1"] if how == "over" else [])
        code = check_command(root, argv, allowed=("out", "tmp", "input"), pictures=how != "convert")
        if code == 0 and how != "convert":
            assert json.load(open(at(report)))["status"] == "success"


# ---------------------------------------------------------------- malformed UI workflows for convert

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "comfyui")
with open(os.path.join(FIXTURES, "frontend_workflows.json"), encoding="utf-8") as f:
    FRONTEND = json.load(f)["workflows"]
WRONG = [5, -1, -10, 0, "x", "", None, True, [], {}, [5], ["x", 1], {"a": 1}, [[1, 2]], 2**70, 1.5]


def json_paths(value, prefix=()):
    """The path of every value inside ``value`` (keys and indices)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from json_paths(inner, (*prefix, key))


def chained_subgraphs(depth: int, back: int | None) -> dict:
    """Subgraph s0 holds s1, ... down to s{depth - 1}; with ``back`` the last holds s{back} again (a cycle)."""
    subgraphs = [{"id": f"s{i}", "nodes": [{"id": 1, "type": f"s{i + 1}"}] if i < depth - 1 else [], "links": []}
                 for i in range(depth)]
    if back is not None:
        subgraphs[-1]["nodes"] = [{"id": 1, "type": f"s{min(back, depth - 1)}"}]
    return {"nodes": [{"id": 1, "type": "s0"}], "links": [], "definitions": {"subgraphs": subgraphs}}


@st.composite
def malformed_workflows(draw):
    """A recorded frontend workflow (subgraphs, nested ones, promoted widgets, a group node) with fields set to
    values of the wrong type, or subgraphs nested deep or in a cycle."""
    if draw(st.integers(0, 4)) == 0:
        return chained_subgraphs(draw(st.sampled_from([1, 2, 100, 101, 3000])),
                                 draw(st.one_of(st.none(), st.integers(0, 3))))
    workflow = json.loads(json.dumps(FRONTEND[draw(st.sampled_from(sorted(FRONTEND)))]["workflow"]))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(json_paths(workflow))[1:]))
        parent = functools.reduce(lambda value, key: value[key], path[:-1], workflow)
        parent[path[-1]] = json.loads(json.dumps(draw(st.sampled_from(WRONG))))  # a copy: never shared
    return workflow


@settings(PROFILE)
@given(malformed_workflows(), st.sampled_from(["convert", "run"]))
def test_fuzz_malformed_workflows(workflow, command):
    with sandbox() as root:
        path = os.path.join(root, "workflow.json")
        with open(path, "w") as f:
            json.dump(workflow, f)
        extra = ["--object-info", os.path.join(FIXTURES, "object_info.json")] if command == "convert" else \
            ["--output-dir", os.path.join(root, "out")]
        assert check_command(root, [command, path, *extra]) in (0, 2, 3)


# ---------------------------------------------------------------- degenerate schedules into Sample

LEVELS = [0.0, 1e-9, 0.001, 0.5, 5.0, 80.0]


@settings(PROFILE)
@given(st.lists(st.sampled_from(LEVELS), min_size=2, max_size=4), st.booleans(), st.one_of(st.none(), st.integers(0, 4)),
       st.booleans())
def test_fuzz_degenerate_schedules_into_sample(levels, descending, split, start_image):
    """Schedules from 0, with no step, flat, ascending or split to one sigma, into Sample from noise or from an
    image: run, or refused with exit 2 (from noise: refused unless it steps down from a visible noise level)."""
    levels = sorted(levels, reverse=descending)
    graph = {"1": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": "noisekit-default"}},
             "2": {"class_type": "NoisekitCustomSigmas", "inputs": {"sigmas": ", ".join(map(str, levels))}},
             "3": {"class_type": "NoisekitSamplerEuler", "inputs": {"s_churn": 0, "s_tmin": 0, "s_tmax": 1000,
                                                                   "s_noise": 1}},
             "4": {"class_type": "NoisekitSample", "inputs": {"model": ["1", 0], "sigmas": ["2", 0], "sampler": ["3", 0],
                                                              "seed": 0, "width": 16, "height": 16, "batch_size": 1}},
             "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "s"}}}
    if split is not None:
        graph["6"] = {"class_type": "NoisekitSigmasSplit", "inputs": {"sigmas": ["2", 0], "step": split}}
        graph["4"]["inputs"]["sigmas"] = ["6", 1]
        levels = levels[split:] if split < len(levels) else levels
    if start_image:
        graph["7"] = {"class_type": "LoadImage", "inputs": {"image": "a.png"}}
        graph["4"]["inputs"]["image"] = ["7", 0]
    with sandbox() as root:
        path = os.path.join(root, "graph.json")
        with open(path, "w") as f:
            json.dump(graph, f)
        code = check_command(root, ["run", path, "--output-dir", os.path.join(root, "out"), "--input-dir",
                                    os.path.join(root, "input")], constant_ok=True)
        steps_down = len(levels) > 1 and levels[0] >= 1 / 255 and levels[-1] < levels[0]
        assert code in (0, 2) and (code == 2 or start_image or steps_down)

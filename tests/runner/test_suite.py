"""`noisekit test`: the shipped example graphs against the goldens beside them, and 20 generated graphs (5 failing
on purpose: a wrong value, an unknown node, a changed golden, a failing check, a golden the graph no longer
makes) as one suite in one process. The generated graphs' goldens are drawn with Pillow, not recorded by the
runner, and their checks hold values from the formulas (Karras's schedule, numpy's linspace, the mean of a flat
colour). The JUnit file is read with junitparser, the HTML page opened in Debian's chromium.

The examples run in float32 (bf16 autocast off, as tests/test_goldens.py), the device class their CPU goldens
were recorded in; ``NOISEKIT_UPDATE_GOLDENS=1`` records them anew."""
import contextlib
import io
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.cli import main
from noisekit.exits import EXIT_OK, EXIT_TESTS_FAILED
from noisekit.runner import asserts, golden
from noisekit.runner.standins import PATHS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "example_workflows")
EXAMPLE_NAMES = sorted(n[:-5] for n in os.listdir(EXAMPLES) if n.endswith(".json"))
UPDATE = os.environ.get("NOISEKIT_UPDATE_GOLDENS") == "1"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
W, H = 24, 16


def rgb(color: int) -> tuple:
    return color >> 16, (color >> 8) & 255, color & 255


def flat(color: int, width=W, height=H) -> Image.Image:
    return Image.new("RGB", (width, height), rgb(color))


def save_graph(image_node: dict, extra: dict | None = None) -> dict:
    """An API graph: node 1 makes the picture (with ``extra`` nodes), node 9 saves it."""
    return {"1": image_node, **(extra or {}),
            "9": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "suite"}}}


def empty(color: int, width=W, height=H) -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": width, "height": height, "batch_size": 1, "color": color}}


def karras(n: int, smin: float, smax: float, rho: float) -> list:
    ramp = np.linspace(0, 1, n)
    return list((smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho) + [0.0]


def add_case(folder, name: str, graph: dict, golden_pictures: dict | None = None, test: dict | None = None):
    """NAME.json (unless ``graph`` is None), and NAME.golden/ with the pictures (name -> PIL image) and test.json."""
    if graph is not None:
        (folder / f"{name}.json").write_text(json.dumps(graph))
    if golden_pictures is None and test is None:
        return
    case = folder / f"{name}.golden"
    case.mkdir()
    if golden_pictures:
        for file, picture in golden_pictures.items():
            picture.save(case / file)
        sidecar = {"tolerance": {"psnr": None, "ssim": None, "max_abs": 0.0, "exact": False},
                   "outputs": {file: golden.picture_hash(str(case / file)) for file in golden_pictures}}
        (case / golden.SIDECAR).write_text(json.dumps(sidecar))
    if test:
        (case / "test.json").write_text(json.dumps(test))


COLORS = [0x000000, 0xFFFFFF, 0xFF0000, 0x00FF00, 0x0000FF, 0x808080, 0x123456, 0xFEDCBA]
PASSING = [f"color_{c:06x}" for c in COLORS] + ["invert_123456", "invert_00ff00", "composite_left", "composite_top",
                                                  "karras", "linspace", "from_png"]
FAILED = ["changed_golden", "failing_check", "golden_gone"]
ERRORS = ["wrong_value", "unknown_node"]


def make_graphs(folder, scratch):
    for color in COLORS:
        mean = sum(rgb(color)) / 3 / 255
        add_case(folder, f"color_{color:06x}", save_graph(empty(color)), {"9_0.png": flat(color)},
                 {"checks": [{"image": "9_0.png", "measure": "size", "equal": [W, H]},
                             {"image": "9_0.png", "measure": "mean", "approx": mean, "abs": 1e-9},
                             {"image": "9_0.png", "measure": "std", "range": [None, 1e-9]},
                             {"ui": "9.images.0.filename", "regex": r"^suite_\d{5}_\.png$"}]})
    for color in (0x123456, 0x00FF00):
        graph = save_graph({"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}}, {"2": empty(color)})
        add_case(folder, f"invert_{color:06x}", graph, {"9_0.png": flat(0xFFFFFF - color)})
    for name, (x, y, w, h) in {"composite_left": (0, 0, W // 2, H), "composite_top": (0, 0, W, H // 2)}.items():
        graph = save_graph({"class_type": "ImageCompositeMasked", "inputs": {
            "destination": ["2", 0], "source": ["3", 0], "x": x, "y": y, "resize_source": False, "mask": ["4", 0]}},
            {"2": empty(0xFF0000), "3": empty(0x0000FF, w, h),
             "4": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": w, "height": h}}})
        picture = flat(0xFF0000)
        picture.paste(flat(0x0000FF, w, h), (x, y))
        add_case(folder, name, graph, {"9_0.png": picture},
                 {"checks": [{"image": "9_0.png", "measure": "std", "range": [0.1, None]},  # not flat
                             {"output": "4.0", "measure": "shape", "equal": [1, h, w]},
                             {"output": "4.0", "measure": "mean", "equal": 1.0}]})
    plot = {"class_type": "NoisekitSigmaPlot", "inputs": {"sigmas_1": ["2", 0], "width": 256, "height": 160}}
    add_case(folder, "karras", save_graph(plot, {"2": {"class_type": "NoisekitScheduleKarras", "inputs": {
        "steps": 8, "sigma_min": 0.03, "sigma_max": 14.6, "rho": 7.0}}}), test={"checks": [
            {"output": "2.0", "approx": karras(8, 0.03, 14.6, 7.0), "rel": 1e-5},
            {"output": "2.0", "measure": "numel", "equal": 9},
            {"image": "9_0.png", "measure": "size", "equal": [256, 160]}]})
    add_case(folder, "linspace", save_graph(plot, {"2": {"class_type": "NoisekitScheduleKarras", "inputs": {
        "steps": 5, "sigma_min": 1.0, "sigma_max": 5.0, "rho": 1.0}}}), test={"checks": [
            {"output": "2.0", "approx": list(np.linspace(5.0, 1.0, 5)) + [0.0], "abs": 1e-6},
            {"output": "2.0", "measure": "first", "range": [4.999, 5.001]}]})
    # a PNG saved by SaveImage is a graph too: its prompt chunk runs again
    assert main(["run", str(folder / "color_123456.json"), "--output-dir", str(scratch)]) == EXIT_OK
    shutil.copy(scratch / "suite_00001_.png", folder / "from_png.png")
    add_case(folder, "from_png", None, {"9_0.png": flat(0x123456)})
    # failing on purpose
    add_case(folder, "changed_golden", save_graph(empty(0x808080)), {"9_0.png": flat(0x7F8080)})
    add_case(folder, "failing_check", save_graph(empty(0x808080)), test={"checks": [
        {"image": "9_0.png", "measure": "mean", "approx": 0.25, "abs": 0.01}]})
    add_case(folder, "golden_gone", save_graph(empty(0x808080)), {"9_0.png": flat(0x808080), "9_1.png": flat(0)})
    add_case(folder, "wrong_value", save_graph(empty(0x808080, width=-8)))
    add_case(folder, "unknown_node", save_graph({"class_type": "KSamplerr", "inputs": {}}))


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory):
    """One `noisekit test` of the examples and the generated graphs: its exit code, stdout, JUnit, HTML, report."""
    work = tmp_path_factory.mktemp("suite")
    generated = work / "generated"
    generated.mkdir()
    saved = dict(PATHS)
    comfyui = os.environ.pop("NOISEKIT_COMFYUI", None)
    with pytest.MonkeyPatch.context() as mp:  # float32, as the examples' CPU goldens were recorded
        mp.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
        mp.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
        try:
            make_graphs(generated, work / "scratch")
            if UPDATE:
                assert main(["test", EXAMPLES, "--update-golden"]) == EXIT_OK
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main(["test", EXAMPLES, str(generated), "--junit", str(work / "junit.xml"),
                             "--html", str(work / "html"), "--report", str(work / "report.json")])
        finally:
            PATHS.update(saved)
            if comfyui is not None:
                os.environ["NOISEKIT_COMFYUI"] = comfyui
    report = json.loads((work / "report.json").read_text())
    return {"code": code, "stdout": out.getvalue(), "work": work,
            "cases": {os.path.basename(c["name"]): c for c in report["cases"]}}


def test_the_examples_pass_against_their_goldens(suite_run):
    for name in EXAMPLE_NAMES:
        case = suite_run["cases"][name]
        assert case["status"] == "passed", case["messages"]
        assert os.path.isfile(os.path.join(EXAMPLES, f"{name}.golden", golden.SIDECAR))
        for file in os.listdir(os.path.join(EXAMPLES, f"{name}.golden")):
            assert os.path.getsize(os.path.join(EXAMPLES, f"{name}.golden", file)) < 1_000_000


def test_each_case_gets_its_verdict_and_one_failure_stops_no_other(suite_run):
    cases = suite_run["cases"]
    assert {n for n, c in cases.items() if c["status"] == "passed"} == set(PASSING) | set(EXAMPLE_NAMES)
    assert {n for n, c in cases.items() if c["status"] == "failed"} == set(FAILED)
    assert {n for n, c in cases.items() if c["status"] == "error"} == set(ERRORS)
    assert suite_run["code"] == EXIT_TESTS_FAILED
    last = suite_run["stdout"].strip().splitlines()[-1]
    assert re.fullmatch(rf"=== 3 failed, {len(PASSING) + len(EXAMPLE_NAMES)} passed, 2 errors in [\d.]+ s ===", last)


def test_failures_say_what_differs(suite_run):
    messages = {n: "\n".join(c["messages"]) for n, c in suite_run["cases"].items()}
    assert re.search(r"golden 9_0\.png: .*max_abs 0\.00392\d* > 0", messages["changed_golden"])  # one level of 255
    assert "check image 9_0.png mean = 0.50196" in messages["failing_check"]
    assert "expected approx 0.25" in messages["failing_check"]
    assert "9_1.png: golden recorded but the run produced no such output" in messages["golden_gone"]
    assert "node 1 (EmptyImage), input 'width'" in messages["wrong_value"] and "minimum" in messages["wrong_value"]
    assert "node 1 (KSamplerr): unknown node type 'KSamplerr'" in messages["unknown_node"]


def test_report_carries_each_output_nodes_ui(suite_run):
    ui = suite_run["cases"]["color_000000"]["ui"]
    assert ui["9"]["images"][0]["type"] == "output" and ui["9"]["images"][0]["filename"] == "suite_00001_.png"


def test_junit_file_counts_and_messages(suite_run):
    junitparser = pytest.importorskip("junitparser")
    xml = junitparser.JUnitXml.fromfile(str(suite_run["work"] / "junit.xml"))
    (suite,) = list(xml)
    total = len(PASSING) + len(FAILED) + len(ERRORS) + len(EXAMPLE_NAMES)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (total, 3, 2, 0)
    verdicts = {}
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        verdicts[case.name] = kinds[0] if kinds else "passed"
        if kinds:
            assert case.result[0].message and case.result[0].text
    assert {n for n, v in verdicts.items() if v == "Failure"} == set(FAILED)
    assert {n for n, v in verdicts.items() if v == "Error"} == set(ERRORS)


def test_html_page_shows_golden_output_and_diff(suite_run):
    html_dir = suite_run["work"] / "html"
    page = (html_dir / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert all((html_dir / s).is_file() for s in sources)
    changed = [s for s in sources if "changed_golden" in s]
    assert sorted(os.path.basename(s) for s in changed) == ["9_0.diff.png", "9_0.golden.png", "9_0.output.png"]
    diff = np.asarray(Image.open(html_dir / next(s for s in changed if s.endswith("diff.png"))))
    assert (diff[..., 0] == 255).all() and (diff[..., 1:] == 0).all()  # a red level less, everywhere, stretched
    for name in EXAMPLE_NAMES:
        assert any(name in s and s.endswith(".golden.png") for s in sources), name


def test_html_page_opens_in_chromium(suite_run, tmp_path):
    if not os.path.isfile(CHROMIUM):
        pytest.skip("needs Debian's chromium")
    shot = tmp_path / "page.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,1600",
                    (suite_run["work"] / "html" / "index.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    if os.environ.get("NOISEKIT_SCREENSHOT"):
        shutil.copy(shot, os.environ["NOISEKIT_SCREENSHOT"])
    picture = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert picture.shape[:2] == (1600, 1280)
    red = (picture[..., 0] > 180) & (picture[..., 1] < 80) & (picture[..., 2] < 80)  # a failed case's border
    assert red.sum() > 200


# --- assertions, one by one ---------------------------------------------------------------------------------

def test_checks_refuse_a_malformed_declaration():
    for bad, words in [({"ui": "1.x"}, "at least one test"), ({"equal": 1}, "exactly one subject"),
                       ({"image": "9_0.png", "equal": 1}, "needs a measure"),
                       ({"output": "1.0", "measure": "median", "equal": 1}, "measure 'median'"),
                       ({"ui": "1.x", "range": [1]}, "range must be"), ({"ui": "1.x", "regex": "("}, "regex"),
                       ({"ui": "1.x", "equals": 1}, "unknown key")]:
        with pytest.raises(ValueError, match=re.escape(words)):
            asserts.parse([bad], "t.json")


@pytest.mark.parametrize("check, value, passes", [
    ({"equal": "a"}, "a", True), ({"equal": "a"}, "b", False),
    ({"approx": 1.0}, 1.0 + 1e-7, True), ({"approx": 1.0}, 1.001, False), ({"approx": 1.0, "rel": 0.01}, 1.001, True),
    ({"approx": [1.0, 2.0], "abs": 0.1}, [1.05, 1.95], True), ({"approx": [1.0, 2.0]}, [1.0], False),
    ({"range": [0, 1]}, 0.5, True), ({"range": [0, 1]}, 1.5, False), ({"range": [None, 0]}, -3, True),
    ({"range": [2, None]}, 1, False), ({"range": [0, 1]}, float("nan"), False), ({"range": [0, 1]}, "x", False),
    ({"regex": r"^cat\b"}, "cat on a mat", True), ({"regex": r"^cat\b"}, "a cat", False),
])
def test_each_test_kind(check, value, passes):
    assert (asserts.failed_test(check, value) is None) == passes


# --- goldens per device class ------------------------------------------------------------------------------

def test_goldens_per_device_class_and_the_cross_device_tolerance(tmp_path, monkeypatch):
    """A CPU golden 45 dB from the output fails at the sidecar's 60 dB on the CPU, passes another device class at
    the cross-device tolerance (35 dB), and a 30 dB one fails both; a class's own goldens, once recorded, are
    the ones it is compared with."""
    noise = np.random.default_rng(0).normal(0, 1, (H, W, 3))
    for name, db in (("near", 45.0), ("far", 30.0)):
        base = np.full((H, W, 3), 128.0)
        scaled = noise * 255 * 10 ** (-db / 20) / np.sqrt(np.mean(noise ** 2))
        picture = np.clip(np.round(base + scaled), 0, 255).astype(np.uint8)
        measured = golden.psnr(picture / 255.0, base / 255.0)
        assert abs(measured - db) < 0.5
        add_case(tmp_path, name, save_graph(empty(0x808080)), {"9_0.png": Image.fromarray(picture)})
        sidecar = tmp_path / f"{name}.golden" / golden.SIDECAR
        data = json.loads(sidecar.read_text())
        sidecar.write_text(json.dumps({**data, "tolerance": {"psnr": 60.0, "ssim": None, "max_abs": None}}))
    near, far = str(tmp_path / "near.json"), str(tmp_path / "far.json")
    monkeypatch.setenv("NOISEKIT_DEVICE_CLASS", "cpu")
    assert main(["test", near]) == EXIT_TESTS_FAILED
    monkeypatch.setenv("NOISEKIT_DEVICE_CLASS", "cuda-0.0")
    assert main(["test", near]) == EXIT_OK
    assert main(["test", far]) == EXIT_TESTS_FAILED
    assert main(["test", far, "--update-golden"]) == EXIT_OK
    recorded = tmp_path / "far.golden" / "cuda-0.0"
    assert sorted(os.listdir(recorded)) == ["9_0.png", golden.SIDECAR]
    assert json.loads((recorded / golden.SIDECAR).read_text())["tolerance"]["psnr"] == 60.0  # the CPU's kept
    assert main(["test", far]) == EXIT_OK  # its own golden now
    monkeypatch.setenv("NOISEKIT_DEVICE_CLASS", "cpu")
    assert main(["test", far]) == EXIT_TESTS_FAILED  # the CPU's golden is untouched
    assert golden.looser({"psnr": 60.0, "ssim": 0.999, "max_abs": 0.0, "exact": True}, golden.CROSS_DEVICE_TOLERANCE) \
        == {"psnr": 35.0, "ssim": 0.97, "max_abs": None, "exact": False}


def test_no_graph_is_a_usage_error(tmp_path, capsys):
    assert main(["test", str(tmp_path)]) == 2
    assert "no graph" in capsys.readouterr().err

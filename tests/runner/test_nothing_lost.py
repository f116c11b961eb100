"""Nothing lost, ever: one regression test per finding of the issue. The ``noisekit`` command runs as a
process here (``python -m noisekit.cli``), as a user or a script starts it: its exit code, its stderr, the
files it leaves and the signals it gets are what is checked."""
import json
import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

TIMEOUT = 120  # a case takes a few seconds; a hang fails instead of blocking the suite


def noisekit(*args, cwd, env=None, timeout=TIMEOUT) -> tuple[int, str, str]:
    """Run the command in ``cwd`` with a private temp folder (cwd/tmp); (exit code, stdout, stderr)."""
    os.makedirs(os.path.join(cwd, "tmp"), exist_ok=True)
    environ = {**os.environ, "TMPDIR": os.path.join(cwd, "tmp"), **(env or {})}
    environ.pop("NOISEKIT_COMFYUI", None)
    done = subprocess.run([sys.executable, "-m", "noisekit.cli", *map(str, args)], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def snapshot(root) -> dict:
    """path -> bytes of every file under ``root`` (but the private temp folder)."""
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, names in os.walk(root) if not os.path.relpath(d, root).startswith("tmp") for f in names}


@pytest.fixture
def work(tmp_path):
    """A graph (LoadImage -> SaveImage), its input photo and a photo the user keeps beside it."""
    os.makedirs(tmp_path / "input")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "input" / "a.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "keep.png")
    (tmp_path / "g.json").write_text(json.dumps(
        {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}))
    return tmp_path


# 1. --report never replaces a file

@pytest.mark.parametrize("report", ["keep.png", "g.json", "input/a.png", "out/x_00001_.png"])
def test_report_over_an_existing_file_is_refused_before_the_run(work, report):
    noisekit("run", "g.json", "--output-dir", "out", cwd=work)  # out/x_00001_.png
    before = snapshot(work)
    code, out, err = noisekit("run", "g.json", "--output-dir", "out", "--report", report, cwd=work)
    assert code == 2 and report in err and "exists" in err and out == ""
    assert snapshot(work) == before  # nothing replaced, and nothing ran


def test_report_on_the_name_the_run_saves_to_keeps_the_picture(work):
    """The report names the picture the run is about to save: the picture stays, the report is refused."""
    code, out, err = noisekit("run", "g.json", "--output-dir", "out", "--report", "out/x_00001_.png", cwd=work)
    assert code == 2 and "out/x_00001_.png" in err and "exists" in err and "the report was not written" in err
    assert out == f"{work / 'out' / 'x_00001_.png'}\n"  # the picture saved is still said
    assert Image.open(work / "out" / "x_00001_.png").size == (16, 16)  # still the saved picture


def test_run_over_report_is_refused_over_an_existing_file(work):
    before = snapshot(work)
    code, _, err = noisekit("run", "g.json", "--over", "input", "--output-dir", "out", "--report", "keep.png",
                            "--workers", "1", cwd=work)
    assert code == 2 and "keep.png" in err and snapshot(work) == before


# 4. graphs are read with a size limit; what is no regular file is refused before it is opened

@pytest.mark.parametrize("command", ["run", "convert"])
def test_a_device_a_pipe_or_a_huge_file_is_not_read_as_a_graph(work, command):
    os.mkfifo(work / "pipe.json")  # opening it would block until someone writes
    with open(work / "huge.json", "wb") as f:
        f.truncate(300 * 2**20)  # sparse: takes no disk
    for path, words in (("/dev/zero", "a device, not a file"), ("pipe.json", "a pipe, not a file"),
                        ("huge.json", "larger than 100 MB")):
        code, _, err = noisekit(command, path, cwd=work, timeout=60)
        assert code == 2 and err.startswith(f"noisekit {command}: {path}: {words}"), err


# 5. one signal policy: SIGINT and SIGTERM, first and second, workers included

def start(*args, cwd):
    os.makedirs(os.path.join(cwd, "tmp"), exist_ok=True)
    env = {**os.environ, "TMPDIR": os.path.join(cwd, "tmp")}
    env.pop("NOISEKIT_COMFYUI", None)
    return subprocess.Popen([sys.executable, "-m", "noisekit.cli", *map(str, args)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(proc, event: str):
    """Read --json-progress events until one of type ``event``."""
    for line in proc.stdout:
        if json.loads(line)["type"] == event:
            return
    raise AssertionError(f"no {event} event: {proc.stderr.read()}")


def finish(proc) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert "Traceback" not in err and "internal error" not in err, err
    return proc.returncode, err


@pytest.fixture
def photos(work):
    """work/photos: 6 noisy 48x48 crops of the denoise example's photo."""
    noisy = Image.open(os.path.join(EXAMPLES, "input", "coffee_noisy25.png")).convert("RGB")
    os.makedirs(work / "photos")
    for i in range(6):
        noisy.crop((40 * i, 30, 40 * i + 48, 78)).save(work / "photos" / f"p{i}.png")
    return work / "photos"


EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "example_workflows")
DENOISE = os.path.abspath(os.path.join(EXAMPLES, "api", "denoise_photo.json"))
PHOTO_DIR = os.path.abspath(os.path.join(EXAMPLES, "input"))  # the graph's photo (it is not beside api/)


def test_sigterm_to_run_over_stops_the_workers_quietly_and_leaves_nothing(work, photos):
    proc = start("run", DENOISE, "--over", photos, "--output-dir", "out", "--workers", "2", "--json-progress",
                 "--report", "r.json", cwd=work)
    wait_for(proc, "item_start")
    proc.send_signal(signal.SIGTERM)
    code, err = finish(proc)
    assert code == 143 and "SIGTERM" in err and "BrokenPipe" not in err
    report = json.loads((work / "r.json").read_text())
    assert report["status"] == "interrupted" and report["done"] + report["failed"] < 6
    assert os.listdir(work / "tmp") == []  # no noisekit-batch-*, pymp-* or noisekit-run-* folder left


def test_sigterm_to_a_run_says_so_and_writes_the_report(work):
    proc = start("run", DENOISE, "--input-dir", PHOTO_DIR, "--output-dir", "out", "--json-progress", "--report", "r.json",
                 cwd=work)
    wait_for(proc, "executing")
    proc.send_signal(signal.SIGTERM)
    code, err = finish(proc)
    assert code == 143 and "SIGTERM" in err
    assert json.loads((work / "r.json").read_text())["status"] == "interrupted"
    assert os.listdir(work / "tmp") == []


@pytest.mark.parametrize("command", ["run", "denoise"])
def test_a_second_ctrl_c_exits_130(work, command):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)).save(work / "p.png")
    args = ["run", DENOISE, "--input-dir", PHOTO_DIR, "--output-dir", "out", "--json-progress"] if command == "run" else \
        ["denoise", "p.png", "o.png", "--sigma", "10", "--tile", "128"]
    proc = start(*args, cwd=work)
    if command == "run":
        wait_for(proc, "executing")
    else:
        proc.stdout.readline()  # denoise prints the photo's size once it has read it
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == 130 and "interrupted" in err
    assert not (work / "o.png").exists()


SIGTERM_MID_SAVE = """
import os, signal, sys
from PIL import Image

real = Image.Image.save

def save(self, fp, *args, **kwargs):  # SIGTERM lands while SaveImage writes its PNG
    os.kill(os.getpid(), signal.SIGTERM)
    return real(self, fp, *args, **kwargs)

Image.Image.save = save
from noisekit.cli import main
sys.argv[0] = "noisekit"
sys.exit(main())
"""


def test_sigterm_mid_save_leaves_the_picture_whole_and_no_temp_file(work):
    done = subprocess.run([sys.executable, "-c", SIGTERM_MID_SAVE, "run", "g.json", "--output-dir", "out",
                           "--report", "r.json"], cwd=work, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 143 and "Traceback" not in done.stderr, done.stderr
    assert os.listdir(work / "out") == ["x_00001_.png"]  # whole, and no .noisekit-*.tmp beside it
    assert Image.open(work / "out" / "x_00001_.png").size == (16, 16)
    assert json.loads((work / "r.json").read_text())["status"] == "interrupted"


# 6. previews live in the run's private temp folder, removed when the run ends

def test_preview_image_leaves_nothing_in_the_temp_folder(work):
    (work / "p.json").write_text(json.dumps(
        {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
         "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}))
    code, _, _ = noisekit("run", "p.json", "--report", "r.json", cwd=work)
    assert code == 0 and len(json.loads((work / "r.json").read_text())["previews"]) == 1
    assert os.listdir(work / "tmp") == []


# 11. a full disk names the file; a long value is clipped; broken links in a folder are named

def no_bigger_files_than(size):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_a_report_that_cannot_be_written_is_named(work):
    (work / "e.json").write_text(json.dumps(
        {"1": {"class_type": "EmptyImage", "inputs": {"width": 1, "height": 1, "batch_size": 1, "color": 0}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}))
    env = {**os.environ, "TMPDIR": str(work)}
    env.pop("NOISEKIT_COMFYUI", None)
    done = subprocess.run([sys.executable, "-m", "noisekit.cli", "run", "e.json", "--output-dir", "out",
                           "--report", "r.json"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, preexec_fn=no_bigger_files_than(500))  # the picture fits, the report not
    assert done.returncode == 2 and "--report r.json" in done.stderr and "File too large" in done.stderr
    assert not (work / "r.json").exists() and not [f for f in os.listdir(work) if f.endswith(".tmp")]


def test_a_very_long_value_is_clipped_in_the_message(work):
    (work / "long.json").write_text(json.dumps(
        {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "y" * 1_000_000}}}))
    code, _, err = noisekit("run", "long.json", "--output-dir", "out", cwd=work)
    assert code == 3 and "File name too long" in err and "[999" in err and len(err) < 1000


def test_broken_symlinks_in_an_over_folder_are_named_once(work, photos):
    os.symlink(work / "nowhere.png", photos / "dangling.png")
    os.symlink(photos / "loop.png", photos / "loop.png")
    for name in os.listdir(photos):
        if name.startswith("p") and name != "p0.png":
            os.unlink(photos / name)
    code, _, err = noisekit("run", DENOISE, "--over", photos, "--output-dir", "out", "--workers", "1", cwd=work)
    assert code == 0 and err.count("dangling.png") == 1 and err.count("loop.png") == 1
    assert "skipped 2 symbolic links that lead to no file" in err


# 3. malformed UI workflows: exit 2 and a line naming what is wrong, from convert and run alike

def save_node(node_id, link):
    return {"id": node_id, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": link}],
            "widgets_values": ["x"]}


def subgraph_workflow(**definition):
    """A workflow whose one node is subgraph "s", which saves what comes in at its first input."""
    inner = {"id": "s", "nodes": [save_node(1, 1)], "inputs": [{"name": "images", "linkIds": [1]}], "outputs": [],
             "links": [{"id": 1, "origin_id": -10, "origin_slot": 0, "target_id": 1, "target_slot": 0}]}
    return {"nodes": [{"id": 1, "type": "s", "inputs": [], "outputs": []}], "links": [],
            "definitions": {"subgraphs": [{**inner, **definition}]}}


def group_workflow(group):
    return {"nodes": [{"id": 1, "type": "workflow>g", "inputs": [], "outputs": []}], "links": [],
            "extra": {"groupNodes": {"g": group}}}


def chained_subgraphs(depth: int) -> dict:
    subgraphs = [{"id": f"s{i}", "nodes": [{"id": 1, "type": f"s{i + 1}"}] if i < depth - 1 else [], "links": []}
                 for i in range(depth)]
    return {"nodes": [{"id": 1, "type": "s0"}], "links": [], "definitions": {"subgraphs": subgraphs}}


MALFORMED = {
    "subgraph_inputs": (subgraph_workflow(inputs=5), "subgraph s: 'inputs' must be a list of objects, got 5"),
    "subgraph_outputs": (subgraph_workflow(outputs=[{"linkIds": 5}]), "subgraph s: output 0: 'linkIds' must be"),
    "group_nodes": (group_workflow(5), "extra.groupNodes 'g' must be an object with 'nodes'"),
    "group_links": (group_workflow({"nodes": [], "links": [5]}), "group node g: a link must be"),
    "extra": ({"nodes": [], "links": [], "extra": {"groupNodes": 5}}, "'extra.groupNodes' must be an object"),
    "missing_origin": ({"nodes": [save_node(2, 1)], "links": [[1, 999, 0, 2, 0, "IMAGE"]]},
                       "node 2: input 'images' is linked from node 999, which does not exist"),
    "proxy_widgets": ({"nodes": [{**save_node(2, None), "properties": {"proxyWidgets": 5}}], "links": []},
                      "'properties.proxyWidgets' must be a list"),
    "nodes": ({"nodes": [5], "links": []}, "nodes[0] must be an object, got 5"),
    "links": ({"nodes": [], "links": 5}, "'links' must be a list, got 5"),
    "chained_subgraphs": (chained_subgraphs(3000), "subgraphs nest more than 100 deep"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_workflows_are_exit_2_naming_the_defect(work, name):
    workflow, words = MALFORMED[name]
    (work / "w.json").write_text(json.dumps(workflow))
    for command in ("convert", "run") if name in ("subgraph_inputs", "missing_origin") else ("convert",):
        code, out, err = noisekit(command, "w.json", cwd=work)
        assert code == 2 and words in err and out == "", err


@pytest.mark.parametrize("info, words", [
    ({"X": {"input": 5}}, "node X: 'input' must be an object"),
    ({"X": {"input": {"required": {"a": 5}}}}, "node X: input 'a' must be a list"),
    ({"X": {"input": {"required": {"a": ["COMBO", {"options": 5}]}}}}, "node X: input 'a': 'options' must be a list"),
    ({"X": {"input": {}, "output": 5}}, "node X: 'output' must be a list"),
    ([1], "not ComfyUI's /object_info"),
])
def test_a_malformed_object_info_file_is_exit_2_naming_the_defect(work, info, words):
    (work / "oi.json").write_text(json.dumps(info))
    (work / "w.json").write_text(json.dumps({"nodes": [{"id": 1, "type": "X", "widgets_values": [1]}], "links": []}))
    code, out, err = noisekit("convert", "w.json", "--object-info", "oi.json", cwd=work)
    assert code == 2 and "oi.json" in err and words in err and out == "", err


# 8. the saved pictures are hashed as a stream: no float64 copy, no Pillow size limit, the same hash values

BOMB_LIMIT = """
import sys
from PIL import Image

Image.MAX_IMAGE_PIXELS = 100  # Pillow's decompression-bomb limit, scaled down: a 24x16 picture is over twice it
from noisekit.cli import main
sys.argv[0] = "noisekit"
sys.exit(main())
"""


def test_a_saved_picture_over_pillows_limit_is_hashed(work):
    from noisekit.runner import golden

    (work / "e.json").write_text(json.dumps(
        {"1": {"class_type": "EmptyImage", "inputs": {"width": 24, "height": 16, "batch_size": 1, "color": 0x336699}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}))
    done = subprocess.run([sys.executable, "-c", BOMB_LIMIT, "run", "e.json", "--output-dir", "out", "--report",
                           "r.json"], cwd=work, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    saved = golden.read_pixels(str(work / "out" / "x_00001_.png"))
    assert json.loads((work / "r.json").read_text())["hashes"] == {"2_0.png": golden.pixel_hash(saved)}


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16", "P"])
def test_the_streamed_hash_is_the_hash_of_the_decoded_pixels(tmp_path, mode):
    from noisekit.runner import golden

    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 256, (300, 7, 3), dtype=np.uint8))
    image = Image.fromarray(rng.integers(0, 65536, (300, 7), dtype=np.uint16)) if mode == "I;16" else image.convert(mode)
    image.save(tmp_path / "p.png")
    path = str(tmp_path / "p.png")
    assert golden.Output("p.png", path=path).content_hash() == golden.pixel_hash(golden.read_pixels(path))


def test_hashing_a_saved_picture_holds_no_float64_copy(tmp_path):
    import tracemalloc

    from noisekit.runner import golden

    Image.fromarray(np.random.default_rng(2).integers(0, 256, (2000, 2000, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    tracemalloc.start()
    golden.Output("b.png", path=str(tmp_path / "b.png")).content_hash()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2000 * 2000 * 3 * 3  # the uint8 pixels and a band of rows; the float64 copy alone is 96 MB


# 1. (goldens) --update-golden replaces only the goldens it recorded; a diff picture never replaces a file

def test_update_golden_replaces_only_the_goldens_it_recorded(work):
    os.makedirs(work / "gold")
    (work / "gold" / "2_0.png").write_bytes((work / "keep.png").read_bytes())  # a photo, not a recorded golden
    before = snapshot(work)
    code, _, err = noisekit("run", "g.json", "--output-dir", "out", "--golden", "gold", "--update-golden", cwd=work)
    assert code == 2 and "2_0.png" in err and "exists" in err
    assert {k: v for k, v in snapshot(work).items() if not k.startswith("out")} == before
    (work / "gold" / "2_0.png").unlink()
    (work / "gold" / "golden.json").write_text("[1]")  # not a sidecar noisekit wrote
    code, _, err = noisekit("run", "g.json", "--output-dir", "out", "--golden", "gold", "--update-golden", cwd=work)
    assert code == 2 and "not a goldens' sidecar" in err and (work / "gold" / "golden.json").read_text() == "[1]"
    (work / "gold" / "golden.json").unlink()
    for _ in range(2):  # recorded, then recorded again over its own goldens
        assert noisekit("run", "g.json", "--output-dir", "out", "--golden", "gold", "--update-golden", cwd=work)[0] == 0
    assert sorted(os.listdir(work / "gold")) == ["2_0.png", "golden.json"]


def test_golden_diff_pictures_never_replace_a_file(work):
    assert noisekit("run", "g.json", "--output-dir", "out", "--golden", "gold", "--update-golden", cwd=work)[0] == 0
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(work / "input" / "a.png")  # the run's output changes
    os.makedirs(work / "golden-diff")
    for name in ("2_0_png.diff.png", "2_0_png.side_by_side.png"):
        (work / "golden-diff" / name).write_bytes((work / "keep.png").read_bytes())
    code, _, _ = noisekit("run", "g.json", "--output-dir", "out", "--golden", "gold", "--report", "r.json", cwd=work)
    entry = json.loads((work / "r.json").read_text())["golden"]["outputs"]["2_0.png"]
    assert code == 4 and entry["diff"].endswith("2_0_png.diff_1.png")
    assert (work / "golden-diff" / "2_0_png.diff.png").read_bytes() == (work / "keep.png").read_bytes()


# the Sample node's refusal of a degenerate schedule is a bad value: exit 2, through noisekit run

def sample_graph(sigmas: str, split=None) -> dict:
    graph = {"1": {"class_type": "NoisekitLoadModel", "inputs": {"model_name": "noisekit-default"}},
             "2": {"class_type": "NoisekitCustomSigmas", "inputs": {"sigmas": sigmas}},
             "3": {"class_type": "NoisekitSamplerEuler", "inputs": {"s_churn": 0, "s_tmin": 0, "s_tmax": 1000,
                                                                   "s_noise": 1}},
             "4": {"class_type": "NoisekitSample", "inputs": {"model": ["1", 0], "sigmas": ["2", 0], "sampler": ["3", 0],
                                                              "seed": 0, "width": 16, "height": 16, "batch_size": 1}},
             "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "s"}}}
    if split is not None:  # the low part of the schedule split at ``split``: one sigma, no step
        graph["6"] = {"class_type": "NoisekitSigmasSplit", "inputs": {"sigmas": ["2", 0], "step": split}}
        graph["4"]["inputs"]["sigmas"] = ["6", 1]
    return graph


@pytest.mark.parametrize("sigmas, split", [("0, 0", None), ("5, 5", None), ("5, 0", 1)])
def test_a_degenerate_schedule_into_sample_is_exit_2(work, sigmas, split):
    (work / "s.json").write_text(json.dumps(sample_graph(sigmas, split)))
    code, _, err = noisekit("run", "s.json", "--output-dir", "out", "--report", "r.json", cwd=work)
    assert code == 2 and "input 'sigmas'" in err and not (work / "out").exists()
    assert json.loads((work / "r.json").read_text())["status"] == "invalid"


# the manifest: appended to only where it is noisekit's own

@pytest.mark.parametrize("kind", ["symlink", "lines", "photo"])
def test_run_over_appends_only_to_a_manifest_of_its_own(work, photos, kind):
    os.makedirs(work / "out")
    if kind == "symlink":  # appending would write to the file it points to, outside the output folder
        os.symlink(work / "keep.png", work / "out" / "noisekit-manifest.jsonl")
    elif kind == "lines":
        (work / "out" / "noisekit-manifest.jsonl").write_text('{"notes": "mine"}\n')
    else:
        (work / "out" / "noisekit-manifest.jsonl").write_bytes((work / "keep.png").read_bytes())
    before = snapshot(work)
    code, _, err = noisekit("run", DENOISE, "--over", photos, "--output-dir", "out", "--workers", "1", cwd=work)
    assert code == 2 and "noisekit-manifest.jsonl" in err and snapshot(work) == before


# an unreadable picture into LoadImage is bad input: exit 2 naming the input and the file

@pytest.mark.parametrize("node", ["LoadImage", "LoadImageMask"])
def test_an_unreadable_picture_is_exit_2(work, node):
    data = (work / "input" / "a.png").read_bytes()
    (work / "input" / "garbage.png").write_bytes(b"not a picture")
    (work / "input" / "cut.png").write_bytes(data[:len(data) // 2])
    for name in ("garbage.png", "cut.png"):
        graph = {"1": {"class_type": "LoadImage", "inputs": {"image": name}},
                 "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
        if node == "LoadImageMask":  # the mask of a composite
            graph = {"1": {"class_type": "LoadImageMask", "inputs": {"image": name, "channel": "red"}},
                     "3": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
                     "4": {"class_type": "ImageCompositeMasked", "inputs": {
                         "destination": ["3", 0], "source": ["3", 0], "x": 0, "y": 0, "resize_source": False,
                         "mask": ["1", 0]}},
                     "2": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "x"}}}
        (work / "l.json").write_text(json.dumps(graph))
        code, _, err = noisekit("run", "l.json", "--output-dir", "out", cwd=work)
        assert code == 2 and "input 'image'" in err and name in err, err

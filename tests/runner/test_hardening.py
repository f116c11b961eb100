"""Issue 15, one regression test per finding: whatever the input, one clear line and an exit code in
{0, 2, 3, 130}; no traceback, no black image, nothing outside the output folder, no runaway memory."""
import functools
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit import limits
from noisekit.cli import main
from noisekit.models.loader import WeightsError, load_model, save_model
from noisekit.models.unet import UNet, UNetConfig
from noisekit.models.wrappers import EDMDenoiser
from noisekit.nodes import NODE_CLASS_MAPPINGS as N
from noisekit.files import write_numbered
from noisekit.runner import default_node_classes, load_prompt
from noisekit.runner.standins import NODE_CLASS_MAPPINGS as S
from noisekit.runner.standins import PATHS

TINY = UNetConfig(channels=8, mults=(1, 2), blocks=1, emb_dim=16, groups=4)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A private temp root, an input folder with a small photo, and PATHS restored afterwards."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp")
    for key in ("input", "output", "temp"):
        monkeypatch.setitem(PATHS, key, PATHS[key])
    os.makedirs(tmp_path / "input")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "input" / "a.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    return code, out, err


def graph_file(path, graph):
    path.write_text(json.dumps(graph))
    return str(path)


def api_graph(**save):
    return {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x", **save}}}


# 1. corrupt or NaN weights

def tiny_model_file(path, poison=None):
    torch.manual_seed(0)
    model = EDMDenoiser(UNet(TINY))
    if poison is not None:
        next(model.net.parameters()).data[0] = poison
    save_model(model, str(path))
    return str(path)


@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_nan_weights_are_refused_naming_the_file(tmp_path, capsys, poison):
    path = tiny_model_file(tmp_path / "bad.safetensors", poison)
    with pytest.raises(WeightsError, match="NaN or inf") as e:
        load_model(path)
    assert path in str(e.value)
    Image.fromarray(np.full((16, 16, 3), 120, np.uint8)).save(tmp_path / "p.png")
    code, _, err = run(capsys, ["denoise", str(tmp_path / "p.png"), str(tmp_path / "o.png"), "--model", path,
                                "--sigma", "10"])
    assert code == 2 and path in err and not (tmp_path / "o.png").exists()


def test_non_finite_result_of_one_step_denoise_is_not_written(tmp_path, capsys, monkeypatch):
    """Weights that are finite but overflow (flipped exponent bits) give inf in one step: refused, exit 3."""
    path = tiny_model_file(tmp_path / "m.safetensors")
    from noisekit.photo import commands

    monkeypatch.setattr(commands, "denoise_photo", functools.wraps(commands.denoise_photo)(
        lambda *a, **k: torch.full((1, 16, 16, 3), float("nan"))))
    Image.fromarray(np.full((16, 16, 3), 120, np.uint8)).save(tmp_path / "p.png")
    code, _, err = run(capsys, ["denoise", str(tmp_path / "p.png"), str(tmp_path / "o.png"), "--model", path])
    assert code == 3 and "NaN" in err and not (tmp_path / "o.png").exists()


def test_nan_output_of_a_node_stops_the_run_naming_it(work, capsys):
    nan_image = type("NaNImage", (), {"RETURN_TYPES": ("IMAGE",), "FUNCTION": "f", "CATEGORY": "t",
                                      "INPUT_TYPES": classmethod(lambda cls: {"required": {}}),
                                      "f": lambda self: (torch.full((1, 4, 4, 3), float("nan")),)})
    from noisekit.runner import NodeFailed, Runner

    with pytest.raises(NodeFailed, match="NaN or inf") as e:
        Runner({"NaNImage": nan_image, **S}).run({"1": {"class_type": "NaNImage", "inputs": {}},
                                                   "2": {"class_type": "SaveImage",
                                                         "inputs": {"images": ["1", 0], "filename_prefix": "x"}}})
    assert e.value.node_id == "1" and not os.listdir(work / "tmp")


# 2. malformed UI and API structure

UI = {"nodes": [{"id": 1, "type": "LoadImage", "inputs": [], "outputs": [{"name": "IMAGE", "type": "IMAGE"}],
                 "widgets_values": ["a.png", "image"]},
                {"id": 2, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 1}],
                 "widgets_values": ["x"]}],
      "links": [[1, 1, 0, 2, 0, "IMAGE"]]}


def mutated(change):
    graph = json.loads(json.dumps(UI))
    change(graph)
    return graph


@pytest.mark.parametrize("change, words", [
    (lambda g: g["nodes"][1].update(widgets_values=5), "widgets_values"),
    (lambda g: g.update(links=[{"id": 1}]), "link"),
    (lambda g: g.update(links=5), "'links' must be a list"),
    (lambda g: g.update(links="x"), "'links' must be a list"),
    (lambda g: g.update(links=[[1]]), "a link must be"),
    (lambda g: g.update(links=[5]), "a link must be"),
    (lambda g: g.update(nodes=[5]), "nodes[0] must be an object"),
    (lambda g: g["nodes"][1]["inputs"][0].pop("name"), "no 'name'"),
    (lambda g: g["nodes"][1].update(id=1), "used by two nodes"),
    (lambda g: g["nodes"][1].update(type=["SaveImage"]), "'type'"),
])
def test_malformed_ui_workflow_is_a_graph_problem(work, capsys, change, words):
    path = graph_file(work / "g.json", mutated(change))
    code, _, err = run(capsys, ["run", path, "--output-dir", str(work / "out"), "--report", str(work / "r.json")])
    assert code == 2 and words in err
    assert json.load(open(work / "r.json"))["status"] == "invalid"


def test_malformed_workflow_inside_a_png(work, capsys):
    info = Image.new("RGB", (4, 4))
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_text("workflow", json.dumps(mutated(lambda g: g["nodes"][1].update(widgets_values=5))))
    info.save(work / "g.png", pnginfo=meta)
    code, _, err = run(capsys, ["run", str(work / "g.png"), "--output-dir", str(work / "out")])
    assert code == 2 and "widgets_values" in err
    meta = PngInfo()
    meta.add_text("prompt", "{not json")
    info.save(work / "bad.png", pnginfo=meta)
    code, _, err = run(capsys, ["run", str(work / "bad.png")])
    assert code == 2 and "bad.png" in err and "not valid JSON" in err  # 10: the file is named


@pytest.mark.parametrize("node, words", [({"class_type": ["SaveImage"], "inputs": {}}, "class_type"),
                                         (5, "must be an object"), ({"class_type": "SaveImage", "inputs": 3}, "inputs")])
def test_malformed_api_nodes(work, capsys, node, words):
    graph = api_graph()
    graph["3"] = node
    code, _, err = run(capsys, ["run", graph_file(work / "g.json", graph)])
    assert code == 2 and "node 3" in err and words in err


# 3. photo commands: Ctrl-C, decompression bombs, FloatingPointError

def test_ctrl_c_during_denoise_exits_130_without_traceback(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    script = ("import sys; from noisekit.cli import main; print('ready', flush=True); "
              "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", script, "denoise", str(tmp_path / "p.png"),
                             str(tmp_path / "o.png"), "--sigma", "10", "--tile", "128"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"  # imports done: Ctrl-C now lands in the model build or a forward
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err
    assert os.listdir(tmp_path) == ["p.png"]


def test_decompression_bomb_is_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a 16x16 picture is a "bomb" of 256 pixels
    Image.new("RGB", (16, 16)).save(tmp_path / "b.png")
    code, _, err = run(capsys, ["denoise", str(tmp_path / "b.png"), str(tmp_path / "o.png")])
    assert code == 2 and "b.png" in err and "decompression bomb" in err
    code, _, err = run(capsys, ["run", str(tmp_path / "b.png")])
    assert code == 2 and "b.png" in err


def test_sampler_floating_point_error_is_exit_3(tmp_path, capsys, monkeypatch):
    from noisekit.photo import commands

    @functools.wraps(commands.denoise_photo)
    def explode(*args, **kwargs):
        raise FloatingPointError("dpmpp_2m: NaN or inf in the state at step 2 (sigma 0.5)")

    monkeypatch.setattr(commands, "denoise_photo", explode)
    Image.new("RGB", (16, 16)).save(tmp_path / "p.png")
    code, _, err = run(capsys, ["denoise", str(tmp_path / "p.png"), str(tmp_path / "o.png"), "--sigma", "5"])
    assert code == 3 and err.count("\n") == 1 and "step 2" in err


# 4. the weights loader

def header_file(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return str(path)


@pytest.mark.parametrize("header", [[1, 2], "x", {"a": 5}, {"a": {"dtype": "F32", "shape": [1]}},
                                    {"a": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}},
                                    {"__metadata__": [1]}])
def test_malformed_headers_are_refused_naming_the_path(tmp_path, header):
    path = header_file(tmp_path / "w.safetensors", header, b"\0" * 4)
    with pytest.raises(WeightsError, match="not a safetensors file") as e:
        load_model(path)
    assert path in str(e.value)


@pytest.mark.parametrize("change, words", [({"groups": 0}, "groups"), ({"mults": []}, "mults"),
                                           ({"channels": -8}, "channels"), ({"channels": 4096}, "channels"),
                                           ({"groups": 3}, "divide"), ({"blocks": "2"}, "blocks")])
def test_config_out_of_bounds_is_refused_before_building(tmp_path, change, words):
    from safetensors.torch import save_file

    path = str(tmp_path / "w.safetensors")
    save_file({"x": torch.zeros(2)}, path, metadata={"format": "noisekit-unet",
                                                     "config": json.dumps({**TINY.to_dict(), **change})})
    with pytest.raises(WeightsError, match=words) as e:
        load_model(path)
    assert path in str(e.value)


def test_huge_declared_header_costs_no_memory(tmp_path):
    path = tmp_path / "sparse.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", 2 * 2**30))
        f.truncate(2 * 2**30 + 8)  # sparse: takes no disk
    with pytest.raises(WeightsError, match="not a safetensors file"):
        load_model(str(path))


# 5. SaveImage and PreviewImage paths

def test_save_image_does_not_follow_a_symlink_out(work, capsys):
    os.makedirs(work / "out")
    os.makedirs(work / "elsewhere")
    os.symlink(work / "elsewhere", work / "out" / "link")
    path = graph_file(work / "g.json", api_graph(filename_prefix="link/x"))
    code, _, err = run(capsys, ["run", path, "--output-dir", str(work / "out")])
    assert code == 2 and "outside the output directory" in err and os.listdir(work / "elsewhere") == []


def test_preview_image_uses_a_private_temp_dir_per_run(work, capsys, monkeypatch):
    graph = {"1": api_graph()["1"], "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    path = graph_file(work / "g.json", graph)
    real, modes = S["PreviewImage"].save_images, []

    def save_images(self, *args, **kwargs):
        modes.append(os.stat(PATHS["temp"]).st_mode & 0o777)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(S["PreviewImage"], "save_images", save_images)
    folders = []
    for i in range(2):
        assert run(capsys, ["run", path, "--report", str(work / f"r{i}.json")])[0] == 0
        (preview,) = json.load(open(work / f"r{i}.json"))["previews"]
        folders.append(os.path.dirname(preview))
    assert folders[0] != folders[1] and modes == [0o700, 0o700]
    assert os.listdir(work / "tmp") == []  # removed when the run ended


# 6. a bad --report path

@pytest.mark.parametrize("where", ["dir", "under_file", "/proc/noisekit-report.json"])
def test_bad_report_path_is_refused_before_running(work, capsys, where):
    (work / "file").write_text("x")
    report = {"dir": str(work), "under_file": str(work / "file" / "r.json")}.get(where, where)
    path = graph_file(work / "g.json", api_graph())
    code, _, err = run(capsys, ["run", path, "--output-dir", str(work / "out"), "--report", report])
    assert code == 2 and "--report" in err and not (work / "out").exists()


# 7. recursion

def test_a_2000_node_chain_runs(work, capsys):
    graph = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}}}
    for i in range(2, 2001):
        graph[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    graph["2001"] = {"class_type": "SaveImage", "inputs": {"images": ["2000", 0], "filename_prefix": "x"}}
    code, out, _ = run(capsys, ["run", graph_file(work / "g.json", graph), "--output-dir", str(work / "out")])
    assert code == 0 and out.strip().endswith(".png")
    cycle = {**graph, "1": {"class_type": "ImageInvert", "inputs": {"image": ["2000", 0]}}}
    code, _, err = run(capsys, ["run", graph_file(work / "c.json", cycle)])
    assert code == 2 and "cycle" in err


def test_absurd_nesting_is_refused(work, capsys):
    (work / "deep.json").write_text("[" * 100000 + "]" * 100000)
    code, _, err = run(capsys, ["run", str(work / "deep.json")])
    assert code == 2 and "nest" in err
    graph = api_graph()
    graph["1"]["inputs"]["extra"] = json.loads("[" * 500 + "]" * 500)
    code, _, err = run(capsys, ["run", graph_file(work / "g.json", graph)])
    assert code == 2 and "nest" in err


# 8. CPU and memory bombs

def test_memory_budget_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv(limits.ENV, "64M")
    with pytest.raises(limits.OverBudget, match="would need about 6.0 GB.*64.0 MB.*NOISEKIT_MEMORY_BUDGET"):
        S["ImageScale"]().upscale(torch.zeros(1, 8, 8, 3), "bilinear", 16384, 16384, "disabled")
    with pytest.raises(limits.OverBudget, match="EmptyImage"):
        S["EmptyImage"]().generate(16384, 16384, 4096)
    with pytest.raises(limits.OverBudget, match="EmptyLatentImage"):
        S["EmptyLatentImage"]().generate(16384, 16384, 4096)
    with pytest.raises(ValueError, match="noise strip of 10001 frames"):
        N["NoisekitNoiseStrip"]().apply(torch.zeros(1, 64, 64, 3), torch.linspace(10, 0, 10001), 0, "ve")
    monkeypatch.setenv(limits.ENV, "nonsense")
    with pytest.raises(ValueError, match="give a size"):
        limits.budget()


def test_grow_mask_with_a_huge_expand_is_as_cheap_as_the_mask_is_wide():
    mask = torch.zeros(1, 40, 30)
    mask[0, 5, 7] = 1
    start = time.perf_counter()
    (grown,) = S["GrowMask"]().expand_mask(mask, 16384, True)
    assert time.perf_counter() - start < 5 and bool(grown.eq(1).all())  # every pixel within 16384 steps
    (exact,) = S["GrowMask"]().expand_mask(mask, 10, True)  # the diamond of radius 10 around (5, 7)
    y, x = torch.meshgrid(torch.arange(40), torch.arange(30), indexing="ij")
    assert torch.equal(exact[0], ((y - 5).abs() + (x - 7).abs() <= 10).float())


@pytest.mark.parametrize("flag", ["--grow", "--feather"])
def test_inpaint_grow_and_feather_have_the_nodes_bound(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as e:
        main(["inpaint", "p.png", "m.png", "o.png", flag, "100000"])
    assert e.value.code == 2 and "[0, 256]" in capsys.readouterr().err


def test_custom_sigmas_refuse_absurd_schedules():
    node = N["NoisekitCustomSigmas"]()
    with pytest.raises(ValueError, match="at most 10001"):
        node.make(", ".join(["1"] * 100000))
    with pytest.raises(ValueError, match="no model means"):
        node.make("1e30, 1e29, 0")


def test_big_photo_is_refused_within_the_budget(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(limits.ENV, "1G")
    Image.new("L", (12000, 12000)).save(tmp_path / "big.png")  # a few hundred KB on disk
    code, _, err = run(capsys, ["denoise", str(tmp_path / "big.png"), str(tmp_path / "o.png")])
    assert code == 2 and "12000x12000" in err and "budget" in err


def test_load_image_hash_streams(work, monkeypatch):
    from noisekit import files as floor
    from noisekit.runner.standins import files

    PATHS["input"] = str(work / "input")
    reads = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(floor, "open", lambda p, mode="r": Spy(real_open(p, mode)), raising=False)  # it hashes
    import hashlib

    assert files.input_hash("a.png") == hashlib.sha256((work / "input" / "a.png").read_bytes()).hexdigest()
    assert reads and all(0 < n <= 2**20 for n in reads)


# 9. duplicate ids and keys

def test_duplicate_keys_in_api_json_are_refused(work, capsys):
    text = json.dumps(api_graph())[:-1] + ', "2": {"class_type": "PreviewImage", "inputs": {}}}'
    (work / "g.json").write_text(text)
    code, _, err = run(capsys, ["run", str(work / "g.json")])
    assert code == 2 and "'2' appears twice" in err


# 10. smaller findings

def test_killed_run_leftover_temp_files_are_cleaned(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f".noisekit-{dead}-abc.tmp").write_bytes(b"")
    (tmp_path / f".noisekit-{os.getpid()}-live.tmp").write_bytes(b"")  # this process: still writing
    path, _ = write_numbered(str(tmp_path), lambda n: f"x_{n}.png", 1, lambda f: f.write(b"png"))
    assert sorted(os.listdir(tmp_path)) == [f".noisekit-{os.getpid()}-live.tmp", "x_1.png"]
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_ctrl_c_during_the_last_node_is_an_interrupted_run(work, capsys, monkeypatch):
    from noisekit import progress

    real = S["SaveImage"].save_images

    def interrupted_save(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        progress.interrupt()  # the first Ctrl-C arrives while the last node saves
        return out

    monkeypatch.setattr(S["SaveImage"], "save_images", interrupted_save)
    code, _, err = run(capsys, ["run", graph_file(work / "g.json", api_graph()), "--output-dir", str(work / "out")])
    assert code == 130 and "interrupted" in err


@pytest.mark.parametrize("value, words", [(10**400, "bigger than the maximum"), ("a\x00b", "NUL")])
def test_huge_numbers_and_nul_bytes_name_the_input(work, capsys, value, words):
    graph = api_graph()
    graph["3"] = {"class_type": "EmptyImage", "inputs": {"width": value, "height": 8, "batch_size": 1, "color": 0}}
    graph["4"] = {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "e"}}
    graph["1"]["inputs"]["image"] = value if isinstance(value, str) else "a.png"
    code, _, err = run(capsys, ["run", graph_file(work / "g.json", graph)])
    assert code == 2 and "input 'width'" in err and words in err


def test_denoise_to_a_missing_folder_fails_before_work(tmp_path, capsys):
    Image.new("RGB", (16, 16)).save(tmp_path / "p.png")
    code, _, err = run(capsys, ["denoise", str(tmp_path / "p.png"), str(tmp_path / "missing" / "o.png"),
                                "--model", str(tmp_path / "no-model.safetensors")])
    assert code == 2 and "does not exist" in err  # the output folder, before the (missing) model is touched


def test_inpaint_with_everything_masked(tmp_path, capsys):
    """Found by the fuzz suite: the biharmonic prefill has no boundary when every pixel is masked."""
    Image.new("L", (16, 16), 255).save(tmp_path / "white.png")
    code, _, _ = run(capsys, ["inpaint", str(tmp_path / "white.png"), str(tmp_path / "white.png"),
                              str(tmp_path / "o.png"), "--steps", "2"])
    assert code == 0 and np.asarray(Image.open(tmp_path / "o.png")).std() > 0


def test_a_chain_of_2000_reroutes_converts_to_one_link():
    nodes = [{"id": 1, "type": "LoadImage", "inputs": [], "outputs": [{"name": "IMAGE", "type": "IMAGE"}],
              "widgets_values": ["a.png", "image"]}]
    links = [[i - 1, i - 1, 0, i, 0, "IMAGE"] for i in range(2, 2001)]
    nodes += [{"id": i, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": i - 1}],
               "outputs": [{"name": "", "type": "IMAGE"}]} for i in range(2, 2000)]
    nodes.append({"id": 2000, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 1999}],
                  "widgets_values": ["x"]})
    prompt, _ = load_prompt({"nodes": nodes, "links": links}, default_node_classes())
    assert sorted(prompt) == ["1", "2000"] and prompt["2000"]["inputs"]["images"] == ["1", 0]

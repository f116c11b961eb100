"""Drives `noisekit test`, `noisekit check` and `noisekit run --over` with a real ComfyUI, in a ComfyUI venv, and
prints one JSON line of what it saw; tests/comfyui/test_suite_check.py runs it and asserts on it. The graphs use
ComfyUI's core KSampler and VAEDecode on the probe pack's analytic model and random VAE (third-party nodes).

usage: python suite_check.py COMFYUI_PATH CUSTOM_NODES_DIR WORK_DIR
"""
import contextlib
import io
import json
import sys
from pathlib import Path


def graph(std: float, seed: int = 42) -> dict:
    return {
        "1": {"class_type": "ProbeAnalyticModel", "inputs": {"target": 0.25, "data_std": std, "channels": 4}},
        "2": {"class_type": "ProbeConditioning", "inputs": {}},
        "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "4": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": seed, "steps": 6, "cfg": 1.0, "sampler_name": "euler", "scheduler": "karras",
            "positive": ["2", 0], "negative": ["2", 0], "latent_image": ["3", 0], "denoise": 1.0}},
        "5": {"class_type": "ProbeLatentStats", "inputs": {"latent": ["4", 0]}},
        "6": {"class_type": "ProbeRandomVAE", "inputs": {}},
        "7": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["6", 0]}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": "ks"}},
    }


def main():
    comfyui, custom_nodes, work = sys.argv[1:4]
    work = Path(work)
    from noisekit.cli import main as noisekit

    def command(*argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = noisekit([*argv, "--comfyui", comfyui, "--custom-nodes", custom_nodes])
        return {"code": code, "stdout": out.getvalue()[-4000:], "stderr": err.getvalue()[-3000:]}

    seen = {}
    cases = work / "cases"
    cases.mkdir()
    exact_checks = [{"ui": "5.probe_stats.0.mean", "approx": 0.25, "abs": 1e-5},
                    {"output": "4.0", "measure": "std", "range": [None, 1e-5]},
                    {"image": "8_0.png", "measure": "size", "equal": [64, 64]}]
    for name, checks in {"exact": exact_checks, "wrong_mean": [{"ui": "5.probe_stats.0.mean", "approx": 0.5}]}.items():
        (cases / f"{name}.json").write_text(json.dumps(graph(0.0)))
        (cases / f"{name}.golden").mkdir()
        (cases / f"{name}.golden" / "test.json").write_text(json.dumps({"checks": checks}))
    (cases / "random.json").write_text(json.dumps(graph(0.5)))
    seen["record"] = command("test", str(cases / "random.json"), "--update-golden")
    seen["suite"] = command("test", str(cases), "--junit", str(work / "junit.xml"), "--report", str(work / "r.json"))
    seen["suite"]["report"] = json.loads((work / "r.json").read_text())

    broken = {**graph(0.0), "10": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}}}
    broken["11"] = {"class_type": "KSampler", "inputs": {**broken["4"]["inputs"], "model": ["10", 0]}}
    broken["12"] = {"class_type": "ProbeLatentStats", "inputs": {"latent": ["11", 0]}}
    (work / "needs").mkdir()
    (work / "needs" / "ckpt.json").write_text(json.dumps(broken))
    (work / "models" / "checkpoints").mkdir(parents=True)
    seen["check"] = command("check", str(work / "needs"), "--json", "--models-dir", str(work / "models"))
    seen["check"]["json"] = json.loads(seen["check"]["stdout"])
    broken["11"]["inputs"]["steps"] = 0
    (work / "needs" / "ckpt.json").write_text(json.dumps(broken))
    seen["check_invalid"] = command("check", str(work / "needs"), "--json", "--models-dir", str(work / "models"))
    seen["check_invalid"]["json"] = json.loads(seen["check_invalid"]["stdout"])

    (work / "over.json").write_text(json.dumps(graph(0.5)))
    (work / "seeds.jsonl").write_text("".join(json.dumps({"4.seed": 100 + i}) + "\n" for i in range(8)))
    seen["over"] = command("run", str(work / "over.json"), "--over", str(work / "seeds.jsonl"), "--workers", "2",
                           "--output-dir", str(work / "over"))
    alone = []
    for i in range(8):
        alone.append(command("run", str(work / "over.json"), "--set", f"4.seed={100 + i}",
                             "--output-dir", str(work / "alone" / f"row-{i + 1:05}"))["code"])
    files = {}
    for kind in ("over", "alone"):
        files[kind] = {p.parent.name: p.read_bytes().hex() for p in sorted((work / kind).glob("row-*/*.png"))}
    seen["over"]["alone_codes"] = alone
    seen["over"]["same"] = sum(files["over"].get(k) == v for k, v in files["alone"].items())
    seen["over"]["distinct"] = len(set(files["alone"].values()))
    seen["over"]["items"] = sorted(files["over"])
    seen["over_golden"] = over_golden(command, work)
    print(json.dumps(seen))


def over_golden(command, work: Path) -> dict:
    """`run --over --golden` with ComfyUI over 3 seeds: record, check, and check again after row-00002's saved
    picture was changed in its goldens."""
    (work / "three.jsonl").write_text("".join(json.dumps({"4.seed": 200 + i}) + "\n" for i in range(3)))

    def over(out, *flags):
        seen = command("run", str(work / "over.json"), "--over", str(work / "three.jsonl"), "--workers", "2",
                       "--golden", str(work / "over_golden"), "--output-dir", str(work / out),
                       "--report", str(work / f"{out}.json"), *flags)
        return {**seen, "report": json.loads((work / f"{out}.json").read_text())}

    runs = {"record": over("over_record", "--update-golden"), "check": over("over_check")}
    from PIL import Image  # in the ComfyUI venv

    golden = work / "over_golden" / "row-00002" / "8_0.png"
    pixels = Image.open(golden).convert("RGB")
    pixels.paste((255, 0, 255), (0, 0, 32, 32))
    pixels.save(golden)
    runs["changed"] = over("over_changed")
    return runs


if __name__ == "__main__":
    main()

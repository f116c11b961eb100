"""The wheel a ComfyUI user or pip installs: the bundled weights (the white-noise model and the camera-noise
delta from it), and nothing else above 1 MB;
no training state, training code, benchmarks or tests."""
import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_wheel_carries_the_weights_and_nothing_heavy(tmp_path):
    # build from a copy: setuptools leaves build/ behind, and a stale one would leak old files into the wheel
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "node_modules", "build", "*.egg-info",
                                                                ".ci", "__pycache__", ".*_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source),
                    "-w", str(tmp_path)], check=True, cwd=tmp_path)
    (wheel,) = [f for f in os.listdir(tmp_path) if f.endswith(".whl")]
    files = {i.filename: i.file_size for i in zipfile.ZipFile(tmp_path / wheel).infolist()}
    heavy = {name for name, size in files.items() if size > 1_000_000}
    assert heavy == {"noisekit/models/weights/noisekit-default.safetensors",
                     "noisekit/models/weights/noisekit-camera.safetensors"}
    tops = {name.split("/")[1] for name in files if name.startswith("noisekit/") and name.count("/") > 1}
    assert tops == {"schedules", "samplers", "models", "photo", "nodes", "runner", "batch", "web", "example_workflows"}
    assert "noisekit/cli.py" in files and "noisekit/__init__.py" in files
    assert not [n for n in files if "train_state" in n or n.endswith((".pt", ".ckpt"))]

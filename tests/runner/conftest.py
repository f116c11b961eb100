"""The runner's tests run without ComfyUI even where NOISEKIT_COMFYUI is set (tests/comfyui uses it).
For the many-inputs tests (test_batch.py): a folder of 12 small noisy photos and one corrupt file, and
what ``noisekit run`` writes for each photo alone."""
import os

import pytest
import torch
from PIL import Image

from noisekit.cli import main
from noisekit.runner.standins import PATHS

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "example_workflows")
DENOISE = os.path.join(EXAMPLES, "api", "denoise_photo.json")
SAVED = "noisekit_denoised_00001_.png"


@pytest.fixture(autouse=True)
def no_comfyui(monkeypatch):
    monkeypatch.delenv("NOISEKIT_COMFYUI", raising=False)


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """12 crops of the example's noisy photo (48x48) and bad.png, which is no image."""
    folder = tmp_path_factory.mktemp("photos")
    noisy = Image.open(os.path.join(EXAMPLES, "input", "coffee_noisy25.png")).convert("RGB")
    for i in range(12):
        x, y = 45 * i % (noisy.width - 48), 31 * i % (noisy.height - 48)
        noisy.crop((x, y, x + 48, y + 48)).save(folder / f"img{i:02}.png")
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n but then no image")
    return folder


@pytest.fixture(scope="session")
def lone_threads():
    """torch's thread count in the one-by-one runs and the batch tests' submitting process (a worker
    computes with the submitter's count: the last bit of a convolution can depend on it). One, as
    with OMP_NUM_THREADS=1: quick on a shared 2-core machine, where 2 workers x 2 threads crawl."""
    return 1


@pytest.fixture(scope="session")
def one_by_one(photos, lone_threads, tmp_path_factory):
    """name -> the bytes ``noisekit run DENOISE --set 1.image=NAME`` writes for that photo alone."""
    saved, out, threads = dict(PATHS), tmp_path_factory.mktemp("one_by_one"), torch.get_num_threads()
    comfyui = os.environ.pop("NOISEKIT_COMFYUI", None)  # before no_comfyui: a session fixture
    torch.set_num_threads(lone_threads)
    try:
        for i in range(12):
            name = f"img{i:02}"
            assert main(["run", DENOISE, "--input-dir", str(photos), "--set", f"1.image={name}.png",
                         "--output-dir", str(out / name)]) == 0
    finally:
        PATHS.update(saved)
        torch.set_num_threads(threads)
        if comfyui is not None:
            os.environ["NOISEKIT_COMFYUI"] = comfyui
    return {name: (out / name / SAVED).read_bytes() for name in sorted(os.listdir(out))}

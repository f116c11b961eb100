"""Output files (photo/files.py): refused before any work when they cannot be written; written with the
user's file mode (umask), by the photo commands and by SaveImage alike."""
import os
import stat

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.cli import main
from noisekit.photo import commands
from noisekit.runner.standins import PATHS
from noisekit.runner.standins.files import SaveImage


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(path)
    return str(path)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("command", ["denoise", "inpaint"])
def test_a_missing_output_folder_is_refused_before_any_work(tmp_path, photo, monkeypatch, capsys, command):
    def no_work(*args, **kwargs):
        raise AssertionError("the photo was read before the output was checked")

    monkeypatch.setattr(commands, "read_photo", no_work)
    out = tmp_path / "no such folder" / "out.png"
    args = [command, photo] + ([photo] if command == "inpaint" else []) + [str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "no such folder") in err and "create it" in err
    assert ".tmp" not in err and ".noisekit-" not in err  # names the folder, not a temporary file
    assert not out.parent.exists()


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600)])
def test_the_photo_commands_write_with_the_users_umask(tmp_path, photo, tiny_model, umask, mask, expected):
    umask(mask)
    out = tmp_path / "out.png"
    assert main(["denoise", photo, str(out), "--model", tiny_model, "--sigma", "20"]) == 0
    assert mode(out) == expected


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600)])
def test_save_image_writes_with_the_users_umask(tmp_path, monkeypatch, umask, mask, expected):
    umask(mask)
    monkeypatch.setitem(PATHS, "output", str(tmp_path))
    result = SaveImage().save_images(torch.rand(2, 8, 8, 3), "modes")
    paths = [image["path"] for image in result["ui"]["images"]]
    assert len(paths) == 2 and all(mode(p) == expected for p in paths)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".noisekit-")]  # no temporary file left

"""The photos the bundled model may see: only those shipped inside packages.

Sources (see README, "Data"): scikit-image's ``skimage.data`` colour photos,
scikit-learn's sample images, matplotlib's sample data, and Debian's
plasma-workspace-wallpapers and mate-backgrounds (both GPL-2+), of which only the
real photographs are used. HELDOUT and MATE_HELDOUT are never trained on; the
benchmarks evaluate on them. TRAIN is what the bundled model was trained on;
the camera fine-tune adds MATE_TRAIN.
"""
from __future__ import annotations

import glob
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image

WALLPAPER_PACKAGE = "plasma-workspace-wallpapers"
WALLPAPER_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                    "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")
TRAIN = ("skimage:rocket.jpg", "skimage:motorcycle_left.png", "skimage:motorcycle_right.png", "sklearn:china.jpg",
         "sklearn:flower.jpg", "matplotlib:grace_hopper.jpg") + tuple(
    f"wallpaper:{n}" for n in WALLPAPER_PHOTOS if n != "EveningGlow")
HELDOUT = ("skimage:astronaut.png", "skimage:chelsea.png", "skimage:coffee.png", "wallpaper:EveningGlow")
MATE_DIR = "usr/share/backgrounds/mate/nature"  # mate-backgrounds' photographs (the rest are drawings)
MATE_TRAIN = tuple(f"mate:{n}" for n in ("Aqua", "Blinds", "FreshFlower", "Garden", "GreenMeadow", "RainDrops",
                                         "TwoWings", "Wood"))
MATE_HELDOUT = tuple(f"mate:{n}" for n in ("Dune", "LadyBird", "Storm", "YellowFlower"))
WALLPAPERS = os.path.expanduser("~/.cache/noisekit/wallpapers")  # where the scripts extract the packages by default
PACKAGES = {WALLPAPER_PACKAGE: "usr/share/wallpapers/*", "mate-backgrounds": MATE_DIR + "/*"}  # package -> probe


def fetch_wallpapers(dest: str) -> str:
    """Extract Debian's wallpaper packages into ``dest`` (apt-get download + dpkg-deb, no install)."""
    for package, probe in PACKAGES.items():
        if glob.glob(os.path.join(dest, probe)):
            continue
        os.makedirs(dest, exist_ok=True)  # dpkg-deb -x does not create it
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["apt-get", "download", package], cwd=tmp, check=True)
            (deb,) = glob.glob(os.path.join(tmp, "*.deb"))
            subprocess.run(["dpkg-deb", "-x", deb, dest], check=True)
    return dest


def _largest_wallpaper(root: str, name: str) -> str:
    files = glob.glob(os.path.join(root, "usr/share/wallpapers", name, "contents/images/*"))
    if not files:
        raise FileNotFoundError(f"wallpaper {name!r} not found under {root}; run fetch_wallpapers({root!r})")
    return max(files, key=lambda f: Image.open(f).size[0] * Image.open(f).size[1])


def load_photo(source: str, wallpaper_root: str | None = None) -> np.ndarray:
    """An allowed photo as uint8 [H, W, 3]; ``source`` is "package:name"."""
    package, name = source.split(":", 1)
    if package == "skimage":
        import skimage.data

        image = np.asarray(Image.open(os.path.join(skimage.data.data_dir, name)).convert("RGB"))
    elif package == "sklearn":
        from sklearn.datasets import load_sample_image

        image = load_sample_image(name)
    elif package == "matplotlib":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(name) as f:
            image = np.asarray(Image.open(f).convert("RGB"))
    elif package in ("wallpaper", "mate"):
        if wallpaper_root is None:
            raise ValueError(f"load_photo({source!r}): give wallpaper_root (see fetch_wallpapers)")
        path = _largest_wallpaper(wallpaper_root, name) if package == "wallpaper" else \
            os.path.join(wallpaper_root, MATE_DIR, name + ".jpg")
        image = np.asarray(Image.open(path).convert("RGB"))
    else:
        raise ValueError(f"load_photo: unknown source package {package!r} in {source!r}")
    return np.ascontiguousarray(image[..., :3])

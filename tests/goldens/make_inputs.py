"""Regenerate the golden tests' input photos from scikit-image's CC0 photos:
``python tests/goldens/make_inputs.py`` (needs scikit-image). Two small crops, each clean, with seeded
white noise of std 25/255, and with a brush-stroke mask."""
import os

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inputs")
CROPS = {"cat": (skimage.data.chelsea, (60, 150, 128, 160)), "astronaut": (skimage.data.astronaut, (60, 140, 128, 128))}

for seed, (name, (load, (top, left, h, w))) in enumerate(CROPS.items()):
    clean = load()[top:top + h, left:left + w]
    Image.fromarray(clean).save(os.path.join(HERE, f"{name}.png"))
    noise = np.random.default_rng(seed).normal(0, 25, clean.shape)
    noisy = np.clip(clean + noise, 0, 255).round().astype(np.uint8)
    Image.fromarray(noisy).save(os.path.join(HERE, f"{name}_noisy25.png"))
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).line([(10, h - 20), (w // 3, h // 3), (2 * w // 3, h // 2), (w - 10, 15)], fill=255, width=7)
    mask.save(os.path.join(HERE, f"{name}_mask.png"))

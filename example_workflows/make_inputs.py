"""Regenerate the example inputs from scikit-image's CC0 photos:
``python example_workflows/make_inputs.py`` (needs scikit-image)."""
import os

import numpy as np
import skimage.data
from PIL import Image, ImageDraw

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "input")
rng = np.random.default_rng(25)
coffee = skimage.data.coffee().astype(np.float64)
noisy = np.clip(coffee + rng.normal(0, 25, coffee.shape), 0, 255).round().astype(np.uint8)
Image.fromarray(noisy).save(os.path.join(here, "coffee_noisy25.png"))

chelsea = skimage.data.chelsea()
Image.fromarray(chelsea).save(os.path.join(here, "chelsea.png"))
mask = Image.new("L", (chelsea.shape[1], chelsea.shape[0]), 0)
draw = ImageDraw.Draw(mask)
draw.line([(60, 230), (170, 160), (260, 200), (380, 120)], fill=255, width=9)  # a brush stroke
draw.rectangle([300, 200, 340, 240], fill=255)  # a box
mask.save(os.path.join(here, "chelsea_mask.png"))

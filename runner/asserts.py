"""Assertions on a run, declared beside its goldens (the ``checks`` of a test case, runner/suite.py).

A check names one subject and one or more tests::

    {"ui": "4.images.0.filename", "regex": "^noisekit_"}          a value in a node's ui dict: NODE.KEY[.INDEX ...]
    {"output": "2.0", "measure": "max", "approx": 14.61, "abs": 0.01}
                                                                   a node's output NODE.SLOT (SIGMAS, MASK, IMAGE,
                                                                   LATENT: its "samples", or "key": "noise_mask")
    {"image": "4_0.png", "measure": "std", "range": [0.01, null]}  an output image, named as its golden is

Measures of an output: ``shape``, ``numel``, ``mean``, ``std``, ``min``, ``max``, ``first``, ``last``, ``values``
(the default; a number stays a number). Of an image: ``size`` ([width, height]), ``channels``, ``mean``, ``std`` (per channel
across the picture, averaged: 0 for a flat colour), ``psnr`` and ``ssim`` against its golden (golden.psnr, golden.ssim). Tests: ``equal``, ``approx``
(numbers or nested lists; ``rel`` and ``abs`` as pytest.approx, defaults 1e-6 and 1e-12), ``range`` [low, high]
(null: open on that side) and ``regex`` (re.search on the text). A check fails with what was found.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch

from . import golden

SUBJECTS = ("ui", "output", "image")
TESTS = ("equal", "approx", "range", "regex")
OPTIONS = ("measure", "key", "rel", "abs")
TENSOR_MEASURES = {
    "shape": lambda t: list(t.shape), "numel": lambda t: t.numel(), "mean": lambda t: t.double().mean().item(),
    "std": lambda t: t.double().std(unbiased=False).item(), "min": lambda t: t.min().item(),
    "max": lambda t: t.max().item(), "first": lambda t: t.reshape(-1)[0].item(),
    "last": lambda t: t.reshape(-1)[-1].item(), "values": lambda t: t.tolist()}
IMAGE_MEASURES = ("size", "channels", "mean", "std", "psnr", "ssim")


def parse(checks, where: str) -> list[dict]:
    """The checks of ``where`` (a file), each refused with its index and the fix when malformed."""
    if not isinstance(checks, list):
        raise ValueError(f"{where}: 'checks' must be a list of objects like {{\"ui\": \"4.text.0\", \"equal\": \"x\"}}")
    for i, check in enumerate(checks):
        def bad(why, i=i):
            return ValueError(f"{where}: check {i}: {why}")
        if not isinstance(check, dict):
            raise bad("not an object")
        subjects, tests = [k for k in SUBJECTS if k in check], [k for k in TESTS if k in check]
        unknown = sorted(set(check) - set(SUBJECTS) - set(TESTS) - set(OPTIONS))
        if unknown:
            raise bad(f"unknown key(s) {unknown}; subjects {list(SUBJECTS)}, tests {list(TESTS)}, "
                      f"options {list(OPTIONS)}")
        if len(subjects) != 1 or not isinstance(check[subjects[0]], str):
            raise bad(f"name exactly one subject ({', '.join(SUBJECTS)}) as text")
        if not tests:
            raise bad(f"give at least one test ({', '.join(TESTS)})")
        measure = check.get("measure")
        known = IMAGE_MEASURES if subjects[0] == "image" else TENSOR_MEASURES if subjects[0] == "output" else ()
        if measure is not None and measure not in known:
            raise bad(f"measure {measure!r} is not one of {list(known)}" if known else "a ui value has no measure")
        if subjects[0] == "image" and measure is None:
            raise bad(f"an image check needs a measure ({', '.join(IMAGE_MEASURES)})")
        if "range" in check and not (isinstance(check["range"], list) and len(check["range"]) == 2):
            raise bad("range must be [low, high] (null for an open side)")
        if "regex" in check:
            try:
                re.compile(check["regex"])
            except (re.error, TypeError) as e:
                raise bad(f"regex {check['regex']!r}: {e}") from None
    return checks


def subject_name(check: dict) -> str:
    kind = next(k for k in SUBJECTS if k in check)
    return f"{kind} {check[kind]}" + (f" {check['measure']}" if check.get("measure") else "")


def ui_value(ui: dict, path: str):
    """The value at NODE.KEY[.INDEX ...] of the run's ui dicts, or KeyError saying where the path ends."""
    node, _, rest = path.partition(".")
    if node not in ui:
        raise KeyError(f"node {node} showed no ui (nodes with one: {sorted(ui) or 'none'})")
    value, walked = ui[node], node
    for part in rest.split(".") if rest else []:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            keys = list(value)[:10] if isinstance(value, dict) else f"{len(value)} items" \
                if isinstance(value, (list, tuple)) else type(value).__name__
            raise KeyError(f"{walked} has no {part!r} ({keys})")
        walked += f".{part}"
    return value


def output_value(outputs: dict, path: str, key: str | None):
    """A node's output NODE.SLOT as a tensor (a LATENT's samples or ``key``, a list stacked), or the number."""
    node, _, slot = path.rpartition(".")
    if node not in outputs or not slot.isdigit() or int(slot) >= len(outputs[node]):
        raise KeyError(f"no output {path} (NODE.SLOT; nodes that ran: {sorted(outputs)[:20]})")
    value = outputs[node][int(slot)]
    if isinstance(value, dict):
        if (key or "samples") not in value:
            raise KeyError(f"output {path} has no {key or 'samples'!r} (keys: {sorted(value)})")
        value = value[key or "samples"]
    if isinstance(value, list) and value and all(isinstance(v, torch.Tensor) for v in value):
        value = torch.stack(value)
    if isinstance(value, (bool, int, float)):
        return value
    if not isinstance(value, torch.Tensor):
        raise KeyError(f"output {path} is a {type(value).__name__}, not a tensor or a number")
    return value.detach().cpu()


def image_value(images: dict, golden_path, name: str, measure: str):
    """A measure of the output image ``name``; psnr and ssim against its golden (``golden_path(name)``)."""
    if name not in images:
        raise KeyError(f"no output image {name} (images: {sorted(images)})")
    pixels = images[name].pixels()
    if measure == "size":
        return [pixels.shape[1], pixels.shape[0]]
    if measure == "channels":
        return pixels.shape[2]
    if measure == "mean":
        return float(pixels.mean())
    if measure == "std":  # across the picture, per channel, averaged: 0 for a flat colour
        return float(pixels.reshape(-1, pixels.shape[2]).std(axis=0).mean())
    path = golden_path(name)
    if path is None:
        raise KeyError(f"{measure} of {name} needs its golden, and none is recorded")
    reference = golden.read_pixels(path)
    if reference.shape != pixels.shape:
        raise KeyError(f"{name} is {list(pixels.shape)}, its golden {list(reference.shape)}")
    return golden.psnr(reference, pixels) if measure == "psnr" else golden.ssim(reference, pixels)


def failed_test(check: dict, value) -> str | None:
    """Why ``value`` fails the check's tests, or None."""
    if "equal" in check and value != check["equal"]:
        return f"expected {check['equal']!r}"
    if "approx" in check:
        want, got = np.asarray(check["approx"], dtype=np.float64), np.asarray(value, dtype=np.float64)
        rel, abs_ = check.get("rel", 1e-6), check.get("abs", 1e-12)
        if want.shape != got.shape or not np.allclose(got, want, rtol=rel, atol=abs_):
            return f"expected approx {check['approx']!r} (rel {rel:g}, abs {abs_:g})"
    if "range" in check:
        low, high = check["range"]
        if not isinstance(value, (int, float)) or math.isnan(value) or \
                (low is not None and value < low) or (high is not None and value > high):
            return f"expected in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
    if "regex" in check and re.search(check["regex"], str(value)) is None:
        return f"expected a match of regex {check['regex']!r}"
    return None


def evaluate(check: dict, ui: dict, outputs: dict, images: dict, golden_path) -> str | None:
    """None when the check passes, else one line: the subject, what was found, what was expected."""
    try:
        if "ui" in check:
            value = ui_value(ui, check["ui"])
        elif "output" in check:
            value = output_value(outputs, check["output"], check.get("key"))
            if isinstance(value, torch.Tensor):
                value = TENSOR_MEASURES[check.get("measure") or "values"](value)
        else:
            value = image_value(images, golden_path, check["image"], check["measure"])
    except KeyError as e:
        return f"{subject_name(check)}: {e.args[0]}"
    why = failed_test(check, value)
    return None if why is None else f"{subject_name(check)} = {short(value)}: {why}"


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}... ({len(text)} characters)"

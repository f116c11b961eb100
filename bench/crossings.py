"""``python -m noisekit.bench crossings [PHOTO]``: the room boundaries that ``noisekit denoise PHOTO OUT`` crosses
from the command line to the model call and back to the written file: every Python call made inside noisekit
whose caller sits in another room (photo/, models/, samplers/, ..., or the top-level floor), counted per pair
of modules. A newcomer following the path opens each of these edges."""
from __future__ import annotations

import collections
import os
import sys
import tempfile

from ..cli import main as noisekit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOMS = ("photo", "models", "samplers", "schedules", "nodes", "runner", "batch")
PHOTO = os.path.join(ROOT, "tests", "goldens", "inputs", "cat_noisy25.png")


def module_of(code) -> tuple[str, str] | None:
    """(room, module path) of a code object inside noisekit (installed packages beside it excluded)."""
    path = code.co_filename
    if not path.startswith(ROOT + os.sep) or "site-packages" in path:
        return None
    parts = os.path.relpath(path, ROOT).split(os.sep)
    return (parts[0] if parts[0] in ROOMS else "floor"), "/".join(parts)


def cross_room_calls(argv: list[str]) -> collections.Counter:
    """((room, module) of the caller, of the callee) -> calls, for the calls of ``noisekit ARGV`` that cross a
    room boundary."""
    edges = collections.Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_back is not None:
            callee, caller = module_of(frame.f_code), module_of(frame.f_back.f_code)
            if callee and caller and callee[0] != caller[0]:
                edges[caller, callee] += 1

    sys.setprofile(profile)
    try:
        noisekit(argv)
    finally:
        sys.setprofile(None)
    return edges


def main(argv: list[str]):
    photo = argv[0] if argv else PHOTO
    edges = cross_room_calls(["denoise", photo, os.path.join(tempfile.mkdtemp(), "out.png")])
    print(f"noisekit denoise {photo} OUT: {len(edges)} cross-room call edges, {sum(edges.values())} calls, "
          f"{len({(a[0], b[0]) for a, b in edges})} pairs of rooms")
    for (caller, callee), calls in sorted(edges.items()):
        print(f"  {caller[1]} -> {callee[1]} ({calls})")

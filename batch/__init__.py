"""One piece of work over many items, in worker processes here or Ray actors anywhere, resumably.

This package knows nothing of graphs or photos (runner/over.py and photo/folder.py say what an item is):
job.py says what a job and an item are and how a worker runs one item; manifest.py keeps the output
folder's record of finished items, which a rerun skips; local.py runs the items on worker processes
here, ray.py on Ray actors; loop.py submits them, commits their files, draws the bar and says how the
run ended.
"""
from __future__ import annotations

from .job import BatchError
from .loop import exit_code, run_items
from .manifest import MANIFEST

__all__ = ["run_items", "exit_code", "BatchError", "MANIFEST"]

"""The output folder's manifest (``noisekit-manifest.jsonl``, one line per finished item, written after its
files, only by the submitting process): a rerun skips the items whose last line says done with the same
input hash and job hash, and retries the others."""
from __future__ import annotations

import contextlib
import errno
import json
import os

from .job import BatchError

MANIFEST = "noisekit-manifest.jsonl"


class Manifest:
    """The output folder's record of finished items. One job at a time appends to it (a file lock)."""

    def __init__(self, out_dir: str):
        self.path = os.path.join(out_dir, MANIFEST)
        self.file = open(self.path, "a+", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no advisory locks on this system
            pass
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                self.file.close()
                raise BatchError(f"{out_dir}: another noisekit job is writing there (its manifest is locked); "
                                 "wait for it to finish or choose another output folder") from None
            # a file system without locks (some network mounts): one job at a time is up to the user
        self.file.seek(0)
        text = self.file.read()
        self.last = {}  # key -> the item's latest record
        for line in text.splitlines():
            with contextlib.suppress(ValueError):  # a line cut short when the submitting process was killed
                record = json.loads(line)
                self.last[record["key"]] = record
        if text and not text.endswith("\n"):
            self.file.write("\n")

    def finished(self, item: dict, job_hash: str) -> bool:
        record = self.last.get(item["key"])
        return bool(record) and record["status"] == "done" and record["input_hash"] == item["hash"] \
            and record["graph_hash"] == job_hash

    def append(self, record: dict):
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.last[record["key"]] = record

    def close(self):
        self.file.close()  # releases the lock

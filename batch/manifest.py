"""The output folder's manifest (``noisekit-manifest.jsonl``, one line per finished item, written after its
files, only by the submitting process): a rerun skips the items whose last line says done with the same
input hash and job hash, and retries the others. Only a manifest of noisekit's own is appended to (not a
symbolic link, not a file of other lines)."""
from __future__ import annotations

import errno
import json
import os

from .job import BatchError

MANIFEST = "noisekit-manifest.jsonl"


class Manifest:
    """The output folder's record of finished items. One job at a time appends to it (a file lock)."""

    def __init__(self, out_dir: str):
        self.path = os.path.join(out_dir, MANIFEST)
        try:  # not through a symbolic link: appending would write to whatever file it points to
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as e:
            raise self.foreign(e.strerror) from None
        self.file = os.fdopen(fd, "a+", encoding="utf-8")
        try:
            self._lock(out_dir)
            self.last = self._records()  # key -> the item's latest record
        except BaseException:
            self.file.close()
            raise

    def foreign(self, why: str) -> BatchError:
        return BatchError(f"{self.path}: {why}; it is not noisekit's manifest: move it or choose another output folder")

    def _lock(self, out_dir: str):
        try:
            import fcntl

            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no advisory locks on this system
            pass
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise BatchError(f"{out_dir}: another noisekit job is writing there (its manifest is locked); "
                                 "wait for it to finish or choose another output folder") from None
            # a file system without locks (some network mounts): one job at a time is up to the user

    def _records(self) -> dict:
        self.file.seek(0)
        try:
            text = self.file.read()
        except UnicodeDecodeError:  # noisekit writes its records in ASCII
            raise self.foreign("not text") from None
        last = {}
        for number, line in enumerate(text.splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError:  # a line cut short when the submitting process was killed
                continue
            if not (isinstance(record, dict) and {"key", "status", "input_hash", "graph_hash"} <= record.keys()):
                raise self.foreign(f"line {number} is not a record of a finished item")
            last[record["key"]] = record
        if text and not text.endswith("\n"):
            self.file.write("\n")
        return last

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

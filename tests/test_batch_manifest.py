"""noisekit/batch: the manifest (what a rerun skips, a line cut short by a kill, one job per folder)
and how a worker starts (the submitter's torch threads; a failed start fails every item, not the worker)."""
import json
import os

import pytest
import torch

from noisekit.batch import MANIFEST, BatchError, exit_code
from noisekit.batch.job import attempt, start_quietly
from noisekit.batch.manifest import Manifest
from noisekit.files import value_hash


def record(key, status="done", input_hash="h1", graph_hash="g1"):
    return {"key": key, "input": key, "input_hash": input_hash, "graph_hash": graph_hash, "sets": {},
            "status": status, "outputs": [], "seconds": 0.0, "error": None}


def test_a_rerun_skips_only_items_done_with_the_same_input_and_graph(tmp_path):
    manifest = Manifest(str(tmp_path))
    for r in (record("a"), record("b", status="failed"), record("c"), record("c", status="failed")):
        manifest.append(r)
    manifest.close()
    manifest = Manifest(str(tmp_path))
    item = {"key": "a", "hash": "h1"}
    assert manifest.finished(item, "g1")
    assert not manifest.finished(item, "g2")  # the graph changed
    assert not manifest.finished({"key": "a", "hash": "h2"}, "g1")  # the input changed
    assert not manifest.finished({"key": "b", "hash": "h1"}, "g1")  # failed: retried
    assert not manifest.finished({"key": "c", "hash": "h1"}, "g1")  # its last line counts
    assert not manifest.finished({"key": "d", "hash": "h1"}, "g1")
    manifest.close()


def test_a_line_cut_short_is_ignored_and_the_next_starts_on_its_own_line(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps(record("a")) + "\n" + json.dumps(record("b"))[:30])
    manifest = Manifest(str(tmp_path))
    assert manifest.finished({"key": "a", "hash": "h1"}, "g1") and "b" not in manifest.last
    manifest.append(record("b"))
    manifest.close()
    assert Manifest(str(tmp_path)).finished({"key": "b", "hash": "h1"}, "g1")


def test_one_job_per_output_folder(tmp_path):
    first = Manifest(str(tmp_path))
    with pytest.raises(BatchError, match="another noisekit job is writing there"):
        Manifest(str(tmp_path))
    first.close()
    Manifest(str(tmp_path)).close()


def test_hashes_and_exit_codes():
    assert value_hash({"3.seed": 1, "1.image": "a.png"}) == value_hash({"1.image": "a.png", "3.seed": 1})
    assert value_hash({"3.seed": 1}) != value_hash({"3.seed": 2})
    assert [exit_code({"status": s}) for s in ("success", "failed", "interrupted")] == [0, 3, 130]


class ThreadsJob:
    def start(self):
        threads = torch.get_num_threads()

        def work(item, folder):
            with open(os.path.join(folder, "threads.txt"), "w") as f:
                f.write(str(threads))
        return work


class BrokenJob:
    def start(self):
        raise FileNotFoundError("no model file 'gone.safetensors'")


def test_a_worker_computes_with_the_submitters_threads_and_a_failed_start_fails_each_item(tmp_path):
    before = torch.get_num_threads()
    try:
        for threads in (3, 1):
            result = attempt(start_quietly(ThreadsJob(), threads), {"key": "a"}, str(tmp_path / "a"))
            assert result["files"] == {"threads.txt": str(threads).encode()} and result["status"] == "done"
        result = attempt(start_quietly(BrokenJob(), 1), {"key": "b"}, str(tmp_path / "b"))
    finally:
        torch.set_num_threads(before)
    assert result["status"] == "failed" and result["error"] == {"type": "FileNotFoundError",
                                                                "message": "no model file 'gone.safetensors'"}
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")  # the folders are gone

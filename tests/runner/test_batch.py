"""``noisekit run GRAPH --over INPUTS`` on local worker processes and on Ray actors (a local Ray
instance started once for this module: 2 CPUs, 127.0.0.1 only): every output equals the one-by-one run,
bit for bit; a corrupt image fails only its item; Ctrl-C and a worker killed with SIGKILL lose only the
items in flight, and a rerun finishes the rest with nothing written twice and nothing partial."""
import io
import json
import os
import signal
import sys
import tempfile

import numpy as np
import pytest
import torch
from PIL import Image

from noisekit.batch import MANIFEST
from noisekit.cli import main
from noisekit.runner.over import read_rows

DENOISE = os.path.join(os.path.dirname(__file__), "..", "..", "example_workflows", "api", "denoise_photo.json")
SAVED = "noisekit_denoised_00001_.png"  # what the graph's SaveImage writes first


@pytest.fixture(autouse=True)
def threads_of_the_lone_runs(lone_threads):
    old = torch.get_num_threads()
    torch.set_num_threads(lone_threads)
    yield
    torch.set_num_threads(old)


class Events(io.TextIOBase):
    """Stands in for stdout: hands each --json-progress event to ``on(type, data)`` as it is printed."""

    def __init__(self, on=lambda event, data: None):
        self.on, self.pending, self.events = on, "", []

    def write(self, text):
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            event = json.loads(line)
            self.events.append(event)
            self.on(event["type"], event["data"])
        return len(text)


def run_over(photos, out, *extra):
    return main(["run", DENOISE, "--over", str(photos), "--output-dir", str(out), "--workers", "2", *extra])


def records(out) -> list[dict]:
    return [json.loads(line) for line in open(out / MANIFEST)]


def latest(out) -> dict:
    return {r["key"]: r for r in records(out)}


def files(out) -> dict:
    """Every item folder and the files in it; fails on anything half-written."""
    found = {}
    for directory, _, names in os.walk(out):
        assert not [n for n in names if n.startswith(".noisekit-")], "a partial file was left behind"
        if directory != str(out):
            found[os.path.relpath(directory, out)] = sorted(names)
    return found


def test_two_workers_equal_one_by_one_and_a_corrupt_image_fails_alone(photos, one_by_one, tmp_path, monkeypatch):
    out, events = tmp_path / "out", Events()
    monkeypatch.setattr(sys, "stdout", events)
    assert run_over(photos, out, "--json-progress", "--report", str(tmp_path / "report.json")) == 3
    assert {name: (out / name / SAVED).read_bytes() for name in one_by_one} == one_by_one
    assert files(out) == {name: [SAVED] for name in one_by_one}  # nothing for the corrupt one
    bad = latest(out)["bad"]
    assert bad["status"] == "failed" and (bad["error"]["node_id"], bad["error"]["node_type"]) == ("1", "LoadImage")
    assert "bad.png" in bad["error"]["message"] and bad["sets"] == {"1.image": "bad.png"}
    assert all(latest(out)[n]["outputs"] == [f"{n}/{SAVED}"] for n in one_by_one)
    report = json.load(open(tmp_path / "report.json"))
    assert (report["status"], report["done"], report["failed"]) == ("failed", 12, 1)
    assert [r["error"]["node_type"] for r in report["items"] if r["status"] == "failed"] == ["LoadImage"]
    # two processes did all 13 items: each loads the model once
    assert len({e["data"]["worker"] for e in events.events if e["type"] == "item_start"}) == 2
    # a rerun retries only the failed item and writes nothing twice
    assert run_over(photos, out) == 3
    assert [r["key"] for r in records(out)[13:]] == ["bad"]
    assert files(out) == {name: [SAVED] for name in one_by_one}


def test_ctrl_c_and_a_killed_worker_lose_only_the_items_in_flight(photos, one_by_one, tmp_path, monkeypatch):
    out, staging = tmp_path / "out", tmp_path / "tmp"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))  # where the workers make their files
    seen = {"workers": {}, "ended": [], "killed": None}

    def ctrl_c():  # as a terminal sends it: to the job and its workers
        for pid in set(seen["workers"].values()) - {seen["workers"][seen["killed"]]}:
            os.kill(pid, signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    def on(event, data):
        if event == "item_start":
            seen["workers"][data["key"]] = data["worker"]
            if len(seen["workers"]) == 3:  # kill the worker this item was just sent to
                seen["killed"] = data["key"]
                os.kill(data["worker"], signal.SIGKILL)
        elif event == "item_end":
            seen["ended"].append(data)
            if len(seen["ended"]) in (6, 7):  # Ctrl-C, and after one more item again
                ctrl_c()

    monkeypatch.setattr(sys, "stdout", Events(on))
    assert run_over(photos, out, "--json-progress") == 130
    first = latest(out)
    killed = first[seen["killed"]]
    assert killed["status"] == "failed" and killed["error"]["type"] == "WorkerDied"
    assert "killed by signal 9" in killed["error"]["message"]
    assert seen["ended"][6]["status"] == "done"  # the first Ctrl-C let the item in flight finish
    assert 7 <= len(first) < 13  # the second stopped the job
    done = sorted(k for k, r in first.items() if r["status"] == "done")
    assert files(out) == {name: [SAVED] for name in done}  # no output of an unfinished item
    assert os.listdir(staging) == []  # nor anything the killed worker was making

    rerun = Events()
    monkeypatch.setattr(sys, "stdout", rerun)
    assert run_over(photos, out, "--json-progress") == 3
    assert rerun.events[0]["data"]["skipped"] == len(done)
    assert files(out) == {name: [SAVED] for name in one_by_one}
    assert {name: (out / name / SAVED).read_bytes() for name in one_by_one} == one_by_one
    assert {k: r["status"] for k, r in latest(out).items()} == {"bad": "failed", **{n: "done" for n in one_by_one}}
    assert os.listdir(staging) == []


def test_rows_of_set_values_equal_one_by_one(photos, one_by_one, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"1.image": "img03.png"}\n\n{"1.image": "img07.png", "4.filename_prefix": "sweep"}\n')
    out = tmp_path / "out"
    assert main(["run", DENOISE, "--over", str(rows), "--input-dir", str(photos), "--output-dir", str(out),
                 "--workers", "1"]) == 0
    assert (out / "row-00001" / SAVED).read_bytes() == one_by_one["img03"]
    # another prefix, another prompt in the PNG: the same pixels
    pixels = [np.asarray(Image.open(p)) for p in (out / "row-00002" / "sweep_00001_.png",
                                                  io.BytesIO(one_by_one["img07"]))]
    assert np.array_equal(*pixels)


def test_rows_from_csv_and_bad_rows(tmp_path):
    table = tmp_path / "rows.csv"
    table.write_text('1.image,3.seed,3.mode\nimg01.png,5,"""sample"""\nimg02.png,,one_step\n')
    assert read_rows(str(table)) == [{"1.image": "img01.png", "3.seed": 5, "3.mode": "sample"},
                                     {"1.image": "img02.png", "3.mode": "one_step"}]
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"3.seed": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match="line 2: expected an object"):
        read_rows(str(lines))


def test_where_each_image_goes_must_be_clear(photos, tmp_path, capsys):
    graph = json.load(open(DENOISE))
    graph["9"] = {"class_type": "LoadImage", "inputs": {"image": "img00.png"}}
    two = tmp_path / "two_loaders.json"
    two.write_text(json.dumps(graph))
    out = str(tmp_path / "out")
    assert main(["run", str(two), "--over", str(photos), "--output-dir", out]) == 2
    assert "2 LoadImage nodes (1, 9)" in capsys.readouterr().err and not os.path.exists(out)
    assert main(["run", DENOISE, "--over", str(photos), "--set-from", "3.picture", "--output-dir", out]) == 2
    assert "node 3 (NoisekitDenoisePhoto) has no input 'picture'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def ray_instance():
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is imported: bind 127.0.0.1
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    yield
    ray.shutdown()


def test_ray_actors_equal_one_by_one_through_a_killed_worker_and_ctrl_c(ray_instance, photos, one_by_one, tmp_path,
                                                                        monkeypatch):
    out, seen = tmp_path / "out", {"started": 0, "ended": 0, "killed": None}

    def on(event, data):
        if event == "item_start":
            seen["started"] += 1
            if seen["started"] == 3:  # kill the Ray worker this item was just sent to
                seen["killed"] = data["key"]
                os.kill(data["worker"], signal.SIGKILL)
        elif event == "item_end":
            seen["ended"] += 1
            if seen["ended"] == 6:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(sys, "stdout", Events(on))
    assert run_over(photos, out, "--ray", "auto", "--json-progress") == 130
    first = latest(out)
    assert first[seen["killed"]]["status"] == "failed" and first[seen["killed"]]["error"]["type"] == "WorkerDied"
    assert 6 <= len(first) <= 8  # the items in flight at Ctrl-C finished, no more started
    assert files(out) == {k: [SAVED] for k, r in first.items() if r["status"] == "done"}

    monkeypatch.setattr(sys, "stdout", Events())
    assert run_over(photos, out, "--ray", "auto") == 3  # the corrupt image still fails, alone
    final = latest(out)
    assert final["bad"]["status"] == "failed" and final["bad"]["error"]["node_type"] == "LoadImage"
    assert files(out) == {name: [SAVED] for name in one_by_one}
    assert {name: (out / name / SAVED).read_bytes() for name in one_by_one} == one_by_one

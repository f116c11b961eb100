"""`noisekit run GRAPH --over INPUTS --golden DIR`: every input NAME judged against DIR/NAME/ as `run --golden`
judges one run, on noisekit's own nodes over 3 small pictures; a mismatch fails its input alone (exit 4), the
verdicts are in the manifest and the report, and a rerun skips only what passed against the goldens as they are."""
import json

import numpy as np
import pytest
from PIL import Image

from noisekit.batch import MANIFEST
from noisekit.cli import main
from noisekit.exits import EXIT_FAILED, EXIT_GOLDEN, EXIT_INVALID, EXIT_OK

NAMES = ["p0", "p1", "p2"]
GRAPH = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "p0.png"}},
    "2": {"class_type": "NoisekitForwardNoise", "inputs": {"sigma": 0.2, "seed": 3, "parameterisation": "ve",
                                                           "image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "noisy"}},
    "4": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},  # a preview: the worker's temp folder
}


@pytest.fixture
def work(tmp_path):
    """3 pictures of 24x16 in tmp_path/inputs and the graph that noises and saves each (and previews it)."""
    (tmp_path / "inputs").mkdir()
    for i, name in enumerate(NAMES):
        pixels = np.random.default_rng(i).integers(0, 256, (16, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "inputs" / f"{name}.png")
    (tmp_path / "graph.json").write_text(json.dumps(GRAPH))
    return tmp_path


def over(work, out: str, *flags, workers: int = 1) -> tuple[int, dict]:
    report = work / f"{out}.json"
    if report.exists():
        report.unlink()
    code = main(["run", str(work / "graph.json"), "--over", str(work / "inputs"), "--golden", str(work / "golden"),
                 "--output-dir", str(work / out), "--workers", str(workers), "--report", str(report), *flags])
    return code, json.loads(report.read_text())


def latest(work, out: str) -> dict:
    return {r["key"]: r for r in map(json.loads, open(work / out / MANIFEST))}


def verdicts(report: dict) -> dict:
    return {r["key"]: r["verdict"]["status"] for r in report["items"]}


def invert_rows(path):
    """Change a golden: its top half inverted."""
    pixels = np.array(Image.open(path))
    pixels[:8] = 255 - pixels[:8]
    Image.fromarray(pixels).save(path)


def test_record_then_check_round_trips_and_a_rerun_skips_only_what_passed_against_these_goldens(work, capsys):
    code, recorded = over(work, "record", "--update-golden")
    assert code == EXIT_OK and verdicts(recorded) == dict.fromkeys(NAMES, "updated")
    assert "recorded the goldens of 3 input(s)" in capsys.readouterr().err
    for name in NAMES:  # the layout run --golden keeps for one run, per input
        assert sorted(p.name for p in (work / "golden" / name).iterdir()) == ["3_0.png", "4_0.png", "golden.json"]
    code, checked = over(work, "check")
    assert code == EXIT_OK and checked["status"] == "success" and verdicts(checked) == dict.fromkeys(NAMES, "passed")
    assert {r["key"]: r["verdict"]["dir"] for r in checked["items"]} == {n: str(work / "golden" / n) for n in NAMES}
    assert latest(work, "check")["p1"]["verdict"]["outputs"]["3_0.png"]["max_abs"] == 0  # the manifest keeps it
    # the goldens hold each input's own pictures: p1's output is not p0's
    hashes = [json.loads((work / "golden" / n / "golden.json").read_text())["outputs"]["3_0.png"] for n in NAMES]
    assert len(set(hashes)) == 3

    code, rerun = over(work, "check")  # nothing changed: every input passed against these goldens
    assert code == EXIT_OK and (rerun["skipped"], rerun["items"]) == (3, [])
    invert_rows(work / "golden" / "p1" / "3_0.png")
    code, rerun = over(work, "check")  # p1's goldens changed: it is compared again, and differs
    assert code == EXIT_GOLDEN and rerun["skipped"] == 2 and verdicts(rerun) == {"p1": "failed"}
    code, rerun = over(work, "check")  # a mismatch is not done: a rerun compares it again
    assert code == EXIT_GOLDEN and verdicts(rerun) == {"p1": "failed"}
    assert over(work, "check", "--update-golden")[0] == EXIT_OK  # recorded anew: all pass again
    code, rerun = over(work, "check")
    assert code == EXIT_OK and verdicts(rerun) == dict.fromkeys(NAMES, "passed")


def test_a_changed_golden_fails_that_input_alone_with_the_same_verdicts_on_one_or_two_workers(work, capsys):
    assert over(work, "record", "--update-golden")[0] == EXIT_OK
    invert_rows(work / "golden" / "p1" / "3_0.png")
    capsys.readouterr()
    runs = {}
    for workers in (1, 2):
        code, report = over(work, f"check{workers}", workers=workers)
        err = capsys.readouterr().err
        assert code == EXIT_GOLDEN and report["status"] == "mismatched", err
        assert verdicts(report) == {"p0": "passed", "p1": "failed", "p2": "passed"}
        assert (report["done"], report["mismatched"], report["failed"]) == (2, 1, 0)
        (p1,) = [r for r in report["items"] if r["key"] == "p1"]
        entry = p1["verdict"]["outputs"]["3_0.png"]
        assert p1["status"] == "mismatched" and not entry["pass"] and entry["psnr"] < 40
        assert p1["verdict"]["outputs"]["4_0.png"]["pass"]  # the preview is unchanged
        # named on stderr: the input, the output and its measures, where the diff picture is
        line = next(line for line in err.splitlines() if "p1.png" in line)
        assert "outputs differ from the goldens in" in line and str(work / "golden" / "p1") in line
        assert f"3_0.png: psnr {entry['psnr']:.6g} < 40.0" in err and entry["diff"] in err
        assert "p0.png" not in err and "p2.png" not in err
        # the pictures go where run --golden puts them for the input's output folder; its outputs are saved too
        diff_dir = work / f"check{workers}" / "p1" / "golden-diff"
        assert sorted(p.name for p in diff_dir.iterdir()) == ["3_0_png.diff.png", "3_0_png.side_by_side.png"]
        assert entry["diff"] == str(diff_dir / "3_0_png.diff.png") and Image.open(entry["diff"]).size == (24, 16)
        assert p1["outputs"] == ["p1/noisy_00001_.png"]
        assert not (work / f"check{workers}" / "p0" / "golden-diff").exists()
        runs[workers] = {r["key"]: {name: {k: e.get(k) for k in ("pass", "sha256", "psnr", "ssim", "max_abs")}
                                    for name, e in r["verdict"]["outputs"].items()} for r in report["items"]}
    assert runs[1] == runs[2]


def test_an_input_without_goldens_is_a_clear_error_of_its_own(work, capsys):
    assert over(work, "record", "--update-golden")[0] == EXIT_OK
    for path in (work / "golden" / "p2").iterdir():
        path.unlink()
    capsys.readouterr()
    code, report = over(work, "check")
    err = capsys.readouterr().err
    assert code == EXIT_FAILED and report["status"] == "failed"  # an input that could not be judged fails
    records = latest(work, "check")
    assert {k: r["status"] for k, r in records.items()} == {"p0": "done", "p1": "done", "p2": "failed"}
    message = records["p2"]["error"]["message"]
    assert str(work / "golden" / "p2") in message and "no goldens recorded" in message and "--update-golden" in message
    assert message in err and records["p2"]["outputs"] == [] and not (work / "check" / "p2").exists()


def test_update_golden_needs_golden(work, capsys):
    code = main(["run", str(work / "graph.json"), "--over", str(work / "inputs"), "--update-golden",
                 "--output-dir", str(work / "out")])
    assert code == EXIT_INVALID and "--update-golden needs --golden DIR" in capsys.readouterr().err
    assert not (work / "out").exists()

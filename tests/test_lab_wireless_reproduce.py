"""The wireless reproduction (pyalgo.lab.wireless.reproduce) at the tiny preset (seconds): files, the
report's tables, sane numbers, and a report rendered from results.json alone."""
import math
import os

import pytest

from pyalgo.lab import harness
from pyalgo.lab.wireless import reproduce as rp

TINY = rp.Config.tiny()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wireless_reproduce")
    doc = harness.reproduce("wireless", preset="tiny", out=out, progress=False, workers=1)
    return out, doc


def test_files_and_tables(tiny_run):
    out, _ = tiny_run
    names = sorted(os.listdir(out))
    assert names == sorted(["results.json", "report.md", "mlp_curves_K4.png", "gnn_curves.png",
                            "intermediate_curves.png"])
    for name in names:
        assert os.path.getsize(out / name) > 0
        if name.endswith(".png"):
            with open(out / name, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text(encoding="utf-8")
    for mode in TINY.sun.modes:
        assert f"| 4 | {mode} |" in report
    for label, _, _ in rp.GNN_RUNS:
        assert f"| {label} |" in report
    for assist in TINY.intermediate.assists:
        assert f"| {assist} |" in report
    assert "| Rayleigh K=4 |" in report and "| D2D K=6 |" in report
    assert "Paper's ordering" in report
    for line in report.splitlines():
        if line.startswith("|"):
            cells = [c.strip().lower() for c in line.split("|")]
            assert not any(c in ("nan", "inf", "-inf") for c in cells), line


def test_numbers_sane(tiny_run):
    _, doc = tiny_run
    results = doc["results"]
    r = results["sun"]["4"]
    assert 0 < r["max_power"] <= 100.5 and 0 < r["random_power"] <= 100.5
    for mode, m in r["modes"].items():
        assert math.isfinite(m["continuous"]) and 0 < m["continuous"] < 150, mode
        assert len(m["curve"]) == TINY.sun.epochs
    for label, g in results["gnn"]["runs"].items():
        assert len(g["curve"]) == TINY.gnn.epochs and all(math.isfinite(x) for x in g["curve"]), label
    for assist, run in results["intermediate"]["runs"].items():
        assert len(run["curves"]) == len(TINY.intermediate.seeds) and all(map(math.isfinite, run["continuous"]))
    for row in results["timing"]:
        assert row["teacher_s"] > 0 and row["student_s"] > 0
    assert results["published"]["wmmse"]["10"] == rp.SUN_WMMSE[10]       # the report's anchors travel with it


def test_report_renders_from_results_alone(tiny_run):
    out, _ = tiny_run
    before = (out / "report.md").read_bytes()
    (out / "report.md").unlink()
    harness.render(out)
    assert (out / "report.md").read_bytes() == before


def test_intermediate_reuses_the_sun_run(tiny_run):
    _, doc = tiny_run
    results = doc["results"]
    final = results["intermediate"]["runs"]["final"]
    same = results["sun"]["4"]["modes"]["unsupervised+assist"]
    assert final["continuous"] == [same["continuous"]] and final["curves"] == [same["curve"]]


def test_bad_config():
    with pytest.raises(ValueError, match="parts"):
        rp.Config(parts=("sun", "miso"))
    with pytest.raises(ValueError, match="SunConfig: modes must be one of"):
        rp.SunConfig(modes=("supervised", "rl+critic"))
    with pytest.raises(ValueError, match="--set sun.epochs: .*epochs must be an int >= 1"):
        harness.override(rp.Config.tiny(), ["sun.epochs=0"])


def test_seed_restarts_every_seed():
    cfg = rp.Config.full().with_seed(5)
    assert cfg.seed == 5 and cfg.intermediate.seeds == (5, 6, 7)
    assert cfg.sun.test_seed == rp.Config.full().sun.test_seed           # the data's seeds stay


@pytest.mark.slow
def test_quick_run(tmp_path):
    doc = harness.reproduce("wireless", preset="quick", out=tmp_path, progress=False)
    assert os.path.exists(tmp_path / "report.md") and os.path.exists(tmp_path / "mlp_curves_K10.png")
    assert doc["results"]["sun"]["10"]["wmmse"] == pytest.approx(rp.SUN_WMMSE[10], rel=0.05)

"""Smoke test of the wireless reproduction (pyalgo.wireless.reproduce) at a tiny size (< 30 s)."""
import math
import os

import pytest

from pyalgo.wireless import reproduce as rp

TINY = rp.Settings(Ks=(4,), n_train=512, n_test=128, mlp_epochs=2, batch_size=128,
                   gnn_K=6, gnn_n_train=128, gnn_n_test=64, gnn_epochs=2, gnn_batch_size=64, gnn_hidden=16,
                   gnn_layers=2, inter_K=4, timing_repeats=1)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wireless_reproduce")
    return out, rp.run(quick=True, out_dir=str(out), settings=TINY, progress=False)


def test_files_and_tables(tiny_run):
    out, result = tiny_run
    names = sorted(os.listdir(out))
    assert names == sorted(["report.md", "mlp_curves_K4.png", "gnn_curves.png", "intermediate_curves.png"])
    for name in names:
        assert os.path.getsize(out / name) > 0
        if name.endswith(".png"):
            with open(out / name, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text(encoding="utf-8")
    for mode in rp.MLP_MODES:
        assert f"| 4 | {mode} |" in report
    for label, _, _ in rp.GNN_RUNS:
        assert f"| {label} |" in report
    for assist in TINY.inter_assists:
        assert f"| {assist} |" in report
    assert "| Rayleigh K=4 |" in report and "| D2D K=6 |" in report
    assert "Paper's ordering" in report
    for line in report.splitlines():
        if line.startswith("|"):
            cells = [c.strip().lower() for c in line.split("|")]
            assert not any(c in ("nan", "inf", "-inf") for c in cells), line


def test_numbers_sane(tiny_run):
    _, result = tiny_run
    r = result["sun"][4]
    assert 0 < r["max_power"] <= 100.5 and 0 < r["random_power"] <= 100.5
    for mode, m in r["modes"].items():
        assert math.isfinite(m["continuous"]) and 0 < m["continuous"] < 150, mode
        assert len(m["curve"]) == TINY.mlp_epochs
    for label, g in result["gnn"]["runs"].items():
        assert len(g["curve"]) == TINY.gnn_epochs and all(math.isfinite(x) for x in g["curve"]), label


def test_bad_parts(tmp_path):
    with pytest.raises(ValueError, match="parts"):
        rp.run(out_dir=str(tmp_path), parts=("sun", "miso"))


@pytest.mark.slow
def test_quick_run(tmp_path):
    result = rp.run(quick=True, out_dir=str(tmp_path), progress=False)
    assert os.path.exists(tmp_path / "report.md") and os.path.exists(tmp_path / "mlp_curves_K10.png")
    assert result["sun"][10]["wmmse"] == pytest.approx(rp.SPEC_WMMSE[10], rel=0.05)

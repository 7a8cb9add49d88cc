"""Smoke test of the ADSAC reproduction (pyalgo.edge.reproduce) at a tiny size."""
import json
import math

import pytest

from pyalgo.edge import reproduce as rp

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("edge_reproduce")
    return out, rp.run(quick=True, out_dir=str(out), settings=rp.Settings.tiny(), progress=False)


def test_files_and_tables(tiny_run):
    out, res = tiny_run
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json", "reward_curves.png"]
    assert (out / "reward_curves.png").read_bytes()[:8] == PNG
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## 1. Final evaluation" in md and "## 2. Training time" in md and "Goal ADSAC > D2SAC > SAC" in md
    for label in rp.LABELS.values():
        assert f"| {label} |" in md
    for line in md.splitlines():
        if line.startswith("|"):
            assert not any(c.strip().lower() in ("nan", "inf") for c in line.split("|")), line
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(data["agents"]) == set(rp.AGENT_ORDER) and set(data["heuristics"]) == set(rp.HEURISTIC_ORDER)


def test_numbers_sane(tiny_run):
    _, res = tiny_run
    s = rp.Settings.tiny()
    for name, row in list(res["agents"].items()) + list(res["heuristics"].items()):
        assert math.isfinite(row["return"]) and 0 <= row["crash_rate"] <= 1, name
    for row in res["agents"].values():
        assert len(row["curves"]) == len(s.seeds) and len(row["curves"][0]["eval_return"]) == s.train["epochs"]
    # the heuristics' ordering holds on any episodes (spec §5.2)
    h = res["heuristics"]
    assert h["prophet"]["return"] > h["crashavoid"]["return"] > h["random"]["return"]

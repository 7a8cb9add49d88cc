"""The ADSAC reproduction (pyalgo.lab.edge.reproduce) at the tiny preset through the harness: files,
tables, sane numbers, a report rendered from results.json alone, the presets and their validation."""
import dataclasses
import json
import math

import pytest

from pyalgo.lab import harness
from pyalgo.lab.edge import reproduce as rp

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("edge_reproduce")
    return out, harness.reproduce("edge", preset="tiny", out=out, progress=False, workers=1)


def test_files_and_tables(tiny_run):
    out, doc = tiny_run
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json", "reward_curves.png"]
    assert (out / "reward_curves.png").read_bytes()[:8] == PNG
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith(f"# {rp.TITLE}") and "Preset **tiny**" in md
    assert "## 1. Final evaluation" in md and "## 2. Training time" in md and "Goal ADSAC > D2SAC > SAC" in md
    for label in rp.LABELS.values():
        assert f"| {label} |" in md
    for line in md.splitlines():
        if line.startswith("|"):
            assert not any(c.strip().lower() in ("nan", "inf") for c in line.split("|")), line
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    res = data["results"]
    assert set(res["agents"]) == set(rp.AGENT_ORDER) and set(res["heuristics"]) == set(rp.HEURISTIC_ORDER)
    assert res["published"] == rp.PUBLISHED
    assert res["golden_legacy"]["crashavoid"] == list(rp.GOLDEN_LEGACY["crashavoid"])
    assert "shared/specs" not in md and "run(quick" not in md


def test_numbers_sane(tiny_run):
    _, doc = tiny_run
    res, cfg = doc["results"], rp.Config.tiny()
    for name, row in list(res["agents"].items()) + list(res["heuristics"].items()):
        assert math.isfinite(row["return"]) and 0 <= row["crash_rate"] <= 1, name
    for row in res["agents"].values():
        assert len(row["curves"]) == len(cfg.seeds) and len(row["curves"][0]["eval_return"]) == cfg.train.epochs
        assert all(math.isfinite(v) for v in row["curves"][0]["eval_return"]) and row["seconds"] > 0
    # the heuristics' ordering holds on any episodes (spec §5.2)
    h = res["heuristics"]
    assert h["prophet"]["return"] > h["crashavoid"]["return"] > h["random"]["return"]
    assert all(v["seed0"] is None for v in h.values())          # the legacy anchors belong to the full preset


def test_report_is_rendered_from_results_only(tiny_run):
    out, _ = tiny_run
    before = (out / "report.md").read_bytes()
    (out / "report.md").unlink()
    (out / "reward_curves.png").unlink()
    harness.render(out)
    assert (out / "report.md").read_bytes() == before and (out / "reward_curves.png").is_file()


def test_presets_keep_the_old_settings():
    quick, full = rp.Config.quick(), rp.Config.full()
    assert (quick.env, quick.rng, quick.seeds, quick.eval_seeds, quick.actor_lr) == ("small", "numpy", (0, 1),
                                                                                   tuple(range(100, 108)), 1e-3)
    assert dataclasses.asdict(quick.train) == dict(epochs=10, steps_per_epoch=400, updates_per_epoch=100,
                                                   batch_size=128, num_envs=8, hidden=128, eval_every=1,
                                                   eval_seeds=(100, 101, 102, 103), buffer_size=100_000)
    assert (full.env, full.rng, full.seeds, full.checkpoints, full.train.epochs, full.train.num_envs) == \
        ("adsac", "legacy", (0, 1, 2), True, 1000, 1)
    assert rp.Config.quick().with_seed(5).seeds == (5, 6)


@pytest.mark.parametrize("change,match", [
    (dict(env="tiny"), r"Config.env must be one of"),
    (dict(rng="torch"), r"Config.rng must be"),
    (dict(seeds=()), r"Config.seeds must not be empty"),
    (dict(actor_lr=0.0), r"Config.actor_lr must be > 0"),
])
def test_bad_configs(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(rp.Config.tiny(), **change)


def test_bad_schedule_through_set():
    with pytest.raises(ValueError, match=r"--set train.batch_size: .*Schedule: batch_size must be an integer >= 1"):
        harness.override(rp.Config.tiny(), ["train.batch_size=0"])

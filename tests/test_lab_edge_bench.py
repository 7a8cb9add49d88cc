"""The edge benchmark (pyalgo.lab.edge.bench) runs end to end at the tiny preset (the smaller N, no
torch.compile), checks the environments before timing and writes sane CSV rows and a Markdown report
(timings never asserted)."""
import pytest

from pyalgo.lab.edge import bench as edge_bench
from pyalgo.lab.harness import bench


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("edge_bench")
    # what `pyalgo bench edge --preset tiny --threads 1` runs
    opt = bench.Options(threads=[1], quick=True, min_run_time=0.05, log=lambda s: None)
    status = bench.main("edge", edge_bench, opt, out, "pyalgo bench edge --preset tiny --threads 1")
    return status, out


def test_tiny_run_writes_csv_and_markdown(tiny_run):
    status, out = tiny_run
    assert status == 0
    with open(out / "edge.csv", newline="") as f:
        header = f.readline().strip().split(",")
    assert header == bench.COLUMNS
    rows = bench.read_csv(out / "edge.csv")
    expected = {("env", p) for p in ("pyalgo", edge_bench.SINGLE, edge_bench.SINGLE_LEGACY, edge_bench.VECTOR)}
    expected |= {("collect", p) for p in ("pyalgo", edge_bench.RELEASED_LOOP)}
    assert {(r["case"], r["provider"]) for r in rows} == expected
    assert {r["shape"] for r in rows if r["case"] == "env"} == {"64", "1024"}
    assert {r["shape"] for r in rows if r["case"] == "collect"} == {"64"}
    for r in rows:
        assert r["status"] == "ok" and r["mode"] == "call" and r["device"] == "cpu" and r["threads"] == "1", r
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert float(r["ratio"]) > 0
        if r["provider"] == "pyalgo":
            assert r["ratio"] == "1" and float(r["extra"].split("per_s=")[1]) > 0    # env-steps per second
    text = (out / "edge.md").read_text()
    assert "## env" in text and "## collect" in text and "## Targets" in text and "verdict" in text
    assert "collection at 64 envs" in text and "× single env" in text


def test_check_catches_a_wrong_provider():
    inputs = edge_bench._env_setup(4, None, None)
    good = edge_bench._batched(*inputs.args)
    assert edge_bench._check(inputs, {"pyalgo": good}) is None
    actions, rewards = good
    assert "actions" in edge_bench._check(inputs, {"pyalgo": good, "bad": (actions + 100, rewards)})
    assert "rewards" in edge_bench._check(inputs, {"pyalgo": good, "bad": (actions, rewards[:2])})

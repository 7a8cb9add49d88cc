"""The wireless benchmark (pyalgo.lab.wireless.bench) on the harness's runner: every provider is
checked before timing, and a tiny run writes sane CSV rows (one schema) and Markdown tables with the
targets (timings are reported, never asserted)."""
import csv
import dataclasses
import types

import pytest
import torch

import pyalgo.wireless as wireless
from pyalgo.cli import main
from pyalgo.lab.harness import bench as B
from pyalgo.lab.wireless import bench as W

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _extra(row, key):
    return float(dict(item.split("=") for item in row["extra"].split(";"))[key])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wireless_bench")
    status = main(["bench", "wireless", "--preset", "tiny", "--threads", "1", "--out", str(out), "--quiet"])
    return out, status


def test_tiny_run_writes_csv_and_markdown(tiny_run):
    out, status = tiny_run
    assert status == 0                                                         # 1 = a check failed
    with open(out / "wireless.csv", newline="") as f:
        assert next(csv.reader(f)) == B.COLUMNS
    rows = B.read_csv(out / "wireless.csv")
    assert rows and all(r["status"] == "ok" for r in rows), [r["status"] for r in rows if r["status"] != "ok"]
    for r in rows:
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert r["device"] == "cpu" and r["threads"] == "1" and r["git_sha"] and r["machine"]

    timed = {(r["case"], r["provider"], r["mode"]) for r in rows}
    expected = {(case.name, p.name, mode) for case in W.CASES for p in case.providers for mode in case.modes}
    assert expected <= timed
    assert {("wmmse", p, "call") for p in ("pyalgo", "reference", "numpy batch", W.PER_INSTANCE_NAME)} <= timed
    assert {("wmmse fixed", p, "call") for p in ("pyalgo", "reference", W.MATVEC_NAME, W.MATMUL_NAME)} <= timed
    for mode in B.MODES:
        for provider in ("pyalgo", "pyalgo validate=False", "reference"):
            assert ("sum_rate", provider, mode) in timed
    assert ("wmmse_miso", "pyalgo", "call") in timed and ("wmmse_miso", "reference", "call") in timed
    assert ("student", "pyalgo", "call") in timed and ("sum_rate bandwidth", W.COPY_NAME, "forward") in timed

    per_instance = [r for r in rows if r["provider"] == W.PER_INSTANCE_NAME]
    assert per_instance and all("first n instances" in r["params"] for r in per_instance)
    # the subset's own instances per second: its time covers PER_INSTANCE[shape] instances, not B
    for r in per_instance:
        n = W.PER_INSTANCE[tuple(int(x) for x in r["shape"].split("x"))]
        assert _extra(r, "per_s") == pytest.approx(n / (float(r["median_ms"]) / 1e3), rel=1e-3)
    assert all(_extra(r, "per_s") > 0 for r in rows if r["case"] in ("wmmse", "wmmse_miso", "student"))
    assert all(_extra(r, "gb_per_s") > 0 for r in rows if r["case"] == "sum_rate bandwidth")

    md = (out / "wireless.md").read_text()
    for heading in ("## Targets", "## wmmse (", "## wmmse fixed (", "## sum_rate (", "## sum_rate bandwidth (",
                    "## wmmse_miso (", "## student ("):
        assert heading in md
    assert "| 1000x10 | float32 |" in md and "| 100x4x4 | complex64 |" in md
    assert "Check failures" not in md


def test_targets_read_per_instance_throughput(tiny_run):
    out, _ = tiny_run
    table = B.Table(B.read_csv(out / "wireless.csv"))
    target = W.throughput_target("wmmse", (1000, 10), "float32", W.PER_INSTANCE_NAME, 1.0)
    text, met = target.measure(table)
    rows = {r["provider"]: r for r in table.rows if r["case"] == "wmmse" and r["dtype"] == "float32"}
    speedup = _extra(rows["pyalgo"], "per_s") / _extra(rows[W.PER_INSTANCE_NAME], "per_s")
    assert text.startswith(f"{speedup:,.1f}x") and met == (speedup >= 1.0)
    assert W.throughput_target("wmmse", (10000, 10), "float32", "reference", 10.0).measure(table) is None


def test_student_rows_at_batch_1_and_1000(tiny_run):
    """The student table: MLPStudent (pyalgo), GNNStudent and the WMMSE teacher at batch 1 and 1000, each
    with decisions per second = B / its median time, ratios against MLPStudent's time, and one Target per
    (student, batch) that reads the students' decisions/s against the teacher's from the same rows."""
    out, _ = tiny_run
    table = B.Table(B.read_csv(out / "wireless.csv"))
    rows = [r for r in table.rows if r["case"] == "student"]
    assert {r["shape"] for r in rows} == {"1x10", "1000x10"}
    for shape, batch in (("1x10", 1), ("1000x10", 1000)):
        at = {r["provider"]: r for r in rows if r["shape"] == shape}
        assert set(at) == {"pyalgo", W.GNN_NAME, W.TEACHER_NAME, W.PER_INSTANCE_NAME}
        assert all(r["mode"] == "call" and r["status"] == "ok" for r in at.values())
        for name in ("pyalgo", W.GNN_NAME, W.TEACHER_NAME):
            assert _extra(at[name], "per_s") == pytest.approx(batch / (float(at[name]["median_ms"]) / 1e3), rel=1e-3)
            assert float(at[name]["ratio"]) == pytest.approx(
                float(at[name]["median_ms"]) / float(at["pyalgo"]["median_ms"]), rel=1e-3)
        for provider, label in W.STUDENTS:
            target = next(t for t in W.STUDENT_TARGETS if t.text.startswith(f"decisions/s at {shape} ")
                          and f": {label} vs" in t.text)
            text, met = target.measure(table)
            speedup = _extra(at[provider], "per_s") / _extra(at[W.TEACHER_NAME], "per_s")
            assert text.startswith(W.ratio_text(speedup)) and met == (speedup >= 1.0)
            assert float(text.split("x")[0].replace(",", "")) == pytest.approx(speedup, rel=0.06)
    md = (out / "wireless.md").read_text()
    assert "| 1x10 | float32 |" in md and all(t.text in md for t in W.STUDENT_TARGETS)
    assert "GNNStudent" in md


@pytest.mark.parametrize("shape", W.STUDENT_SHAPES)
def test_students_decide_under_no_grad(shape):
    """Each student provider is its own model's forward (MLPStudent for pyalgo, GNNStudent), without a graph."""
    inputs = W.student_setup(shape, torch.float32, torch.device("cpu"))
    G, models = inputs.args[:2]
    providers = {p.name: p for p in next(c for c in W.CASES if c.name == "student").providers}
    assert isinstance(models["pyalgo"], wireless.MLPStudent) and isinstance(models[W.GNN_NAME], wireless.GNNStudent)
    for provider, _ in W.STUDENTS:
        with torch.enable_grad():
            out = providers[provider].fn(*inputs.args)
        assert out.shape == shape and not out.requires_grad and inputs.items == shape[0]
        assert torch.equal(out, models[provider](G).detach())


@pytest.mark.parametrize("case, provider", [("wmmse", "numpy batch"), ("wmmse_miso", "reference")])
def test_check_catches_wrong_powers(tmp_path, case, provider):
    base = next(c for c in W.CASES if c.name == case)
    wrong = [dataclasses.replace(p, fn=lambda *a, fn=p.fn: fn(*a) * 0.9) if p.name == provider else p
             for p in base.providers]
    module = types.SimpleNamespace(TITLE=W.TITLE, CASES=[dataclasses.replace(base, providers=wrong)], TARGETS=[],
                                   NOTES=[])
    opt = B.Options(threads=[1], quick=True, min_run_time=0.01, dtypes=["float32", "complex64"], log=lambda s: None)
    assert B.main("wireless", module, opt, tmp_path, "x") == 1
    assert f"{provider}: mean sum rate" in (tmp_path / "wireless.md").read_text()


def test_appends_to_existing_csv(tmp_path):
    args = ["bench", "wireless", "--preset", "tiny", "--threads", "1", "--case", "sum_rate", "--quiet",
            "--out", str(tmp_path)]
    assert main(args) == 0
    first = (tmp_path / "wireless.csv").read_text().splitlines()
    assert main(args) == 0
    second = (tmp_path / "wireless.csv").read_text().splitlines()
    assert second[0] == first[0] and len(second) == 2 * len(first) - 1


def test_setup_honours_the_device():
    inputs = W.sum_rate_setup((8, 3), torch.float64, torch.device("cpu"))
    assert all(t.device.type == "cpu" and t.dtype == torch.float64 for t in inputs.args)
    assert W.CASES and all("cuda" in case.devices for case in W.CASES)

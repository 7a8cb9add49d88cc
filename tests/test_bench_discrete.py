"""The discrete-estimator benchmark runs end to end in --quick mode and writes sane CSV rows."""
import csv
import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("reinmax")

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_discrete.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_discrete", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_csv_and_markdown(tmp_path):
    bench = load_bench()
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0  # nonzero = a correctness check failed

    with open(tmp_path / "discrete.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == bench.COLUMNS
        rows = list(reader)
    for column in ("op", "provider", "mode", "shape", "dtype", "device", "threads", "median_ms",
                   "p20_ms", "p80_ms", "torch_version", "pyalgo_version", "git_sha", "machine",
                   "timestamp"):
        assert column in bench.COLUMNS

    timed = [r for r in rows if r["status"] == "ok"]
    assert timed, "no timed rows"
    for r in timed:
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert r["dtype"] == "float32" and r["device"] == "cpu" and int(r["threads"]) >= 1
    ops = {(r["op"], r["provider"], r["mode"]) for r in timed}
    for mode in bench.MODES:
        assert ("reinmax", "pyalgo", mode) in ops
        assert ("reinmax", "reinmax package", mode) in ops
    assert ("st_gs", "F.gumbel_softmax(hard=True)", "forward+backward") in ops
    assert any(r["op"] == "copy_" for r in timed)

    md = (tmp_path / "discrete.md").read_text()
    assert "## Targets" in md and "pyalgo ms" in md


def test_appends_to_existing_csv(tmp_path):
    bench = load_bench()
    args = ["--quick", "--estimators", "reinmax", "--out", str(tmp_path)]
    bench.main(args)
    first = (tmp_path / "discrete.csv").read_text().splitlines()
    bench.main(args)
    second = (tmp_path / "discrete.csv").read_text().splitlines()
    assert second[0] == first[0] and len(second) == 2 * len(first) - 1

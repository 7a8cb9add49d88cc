"""The wireless benchmark runs end to end in --quick mode, checks its providers and writes sane
CSV rows and Markdown tables (timings are reported, never asserted)."""
import csv
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_wireless.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_wireless", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_rows(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_quick_run_writes_csv_and_markdown(tmp_path):
    bench = load_bench()
    assert bench.main(["--quick", "--threads", "1", "--out", str(tmp_path)]) == 0  # 1 = a check failed

    fieldnames, rows = read_rows(tmp_path / "wireless.csv")
    assert fieldnames == bench.COLUMNS
    for column in ("op", "provider", "mode", "shape", "dtype", "device", "threads", "median_ms", "p20_ms",
                   "p80_ms", "per_second", "torch_version", "numpy_version", "pyalgo_version", "git_sha",
                   "machine", "timestamp"):
        assert column in bench.COLUMNS
    assert rows and all(r["status"] == "ok" for r in rows), [r["status"] for r in rows if r["status"] != "ok"]
    for r in rows:
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert r["device"] == "cpu" and r["threads"] == "1" and r["git_sha"] and r["machine"]

    timed = {(r["op"], r["provider"], r["mode"]) for r in rows}
    for provider in bench.PROVIDERS:
        assert ("wmmse", provider, "") in timed
    assert {("wmmse fixed", "pyalgo", ""), ("bmm", "torch.bmm", "matvec"), ("bmm", "torch.bmm", "matmul")} <= timed
    for mode in bench.MODES:
        for provider in ("pyalgo", bench.SUM_RATE_UNCHECKED, "reference"):
            assert ("sum_rate", provider, mode) in timed
    assert ("wmmse_miso", "pyalgo", "") in timed and ("wmmse_miso", "torch", "") in timed
    assert any(r["op"] == "student" for r in rows)

    per_instance = [r for r in rows if r["provider"] == "numpy per-instance"]
    assert all(0 < int(r["instances"]) <= 20 and "subset=" in r["params"] for r in per_instance)
    assert all(float(r["per_second"]) > 0 for r in rows if r["op"] in ("wmmse", "wmmse_miso", "student"))

    md = (tmp_path / "wireless.md").read_text()
    for heading in ("## Targets", "## WMMSE teacher (SISO)", "GFLOP/s", "## sum_rate: forward / backward",
                    "## MISO WMMSE", "## Student inference"):
        assert heading in md
    assert "| 1000x10 | float32 |" in md and "pyalgo / NumPy per-instance" in md
    assert "Failed checks" not in md


def test_appends_to_existing_csv(tmp_path):
    bench = load_bench()
    args = ["--quick", "--threads", "1", "--sections", "sum_rate", "--min-run-time", "0.01",
            "--out", str(tmp_path)]
    assert bench.main(args) == 0
    first = (tmp_path / "wireless.csv").read_text().splitlines()
    assert bench.main(args) == 0
    second = (tmp_path / "wireless.csv").read_text().splitlines()
    assert second[0] == first[0] and len(second) == 2 * len(first) - 1

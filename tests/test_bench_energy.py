"""The energy benchmark runs end to end in --quick mode, checks pyalgo against the reference before
timing and writes sane CSV rows and a Markdown table (timings are reported, never asserted)."""
import csv
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_energy.py"


def test_quick_run_writes_csv_and_markdown(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_energy", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.CASES = [("unary", "bits", 8, 5, 20), ("permutahedron", "perms", 4, 4, 20)]
    bench.TARGET = ("unary", 8, 5, 20)
    assert bench.main(["--quick", "--threads", "1", "--out", str(tmp_path)]) == 0  # 1 = a check failed
    with open(tmp_path / "energy.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == bench.COLUMNS
        rows = list(reader)
    assert len(rows) == 2 * len(bench.PROVIDERS) * len(bench.MODES)
    for r in rows:
        assert r["status"] == "ok"
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert float(r["peak_mb"]) >= 0 and r["git_sha"] and r["machine"]
    # the materialised reference holds (B, m, k) samples; the fused op does not
    by = {(r["op"], r["provider"], r["mode"]): float(r["peak_mb"]) for r in rows}
    assert by[("unary", "torch", "forward+backward")] > by[("unary", "pyalgo", "forward+backward")]
    text = (tmp_path / "energy.md").read_text()
    assert "speed-up" in text and "peak memory" in text


def test_peak_memory_counts_a_materialised_tensor():
    import torch
    spec = importlib.util.spec_from_file_location("bench_common", BENCH.parent / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    peak = common.peak_cpu_bytes(lambda: torch.ones(1 << 20).sum())
    assert 4 * (1 << 20) <= peak < 8 * (1 << 20)

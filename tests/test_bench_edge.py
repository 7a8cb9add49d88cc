"""The edge benchmark runs end to end in --quick mode (small sizes, no torch.compile), checks the
environments before timing and writes sane CSV rows and a Markdown table (timings never asserted)."""
import csv
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_edge.py"


def test_quick_run_writes_csv_and_markdown(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_edge", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.ENV_SIZES, bench.COLLECT_SIZES, bench.HIDDEN = [8], [8], 32
    assert bench.main(["--quick", "--no-compile", "--threads", "1", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "edge.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == bench.COLUMNS
        rows = list(reader)
    assert len(rows) == 2 + 1 + 1 + 1        # single legacy/numpy, batched 8, single + actor, batched + actor
    for r in rows:
        assert r["status"] == "ok" and float(r["env_steps_per_s"]) > 0
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
    assert {r["ratio"] for r in rows if r["provider"] in ("single (legacy)", "single + actor B=1 (eager)")} == {"1.00"}
    text = (tmp_path / "edge.md").read_text()
    assert "env-steps/s" in text and "verdict" in text

"""Run the malformed-input tables (tests/test_malformed_*.py) in child processes and tally them.

    python tools/probe.py [--timeout 60] [family ...]

Each family's cases run in a child process that reports every case before and after running it,
so a case that kills the process is counted as a crash and one that stops answering for
`--timeout` seconds as a hang; the child is then restarted after that case. Prints one row per
family (clear / correct / unclear / crash / hang / silent) and the cases that are not clear or
correct. Exit status 1 when any case is unclear, crashed, hung or silent.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def families():
    return sorted(p.stem[len("test_malformed_"):] for p in TESTS.glob("test_malformed_*.py"))


def load(family):
    sys.path.insert(0, str(TESTS))
    return importlib.import_module(f"test_malformed_{family}").CASES


def worker(family, start):
    cases = load(family)
    from malformed import classify

    for i, case in enumerate(cases):
        if i < start:
            continue
        print(json.dumps({"start": i}), flush=True)
        outcome, detail = classify(case)
        print(json.dumps({"done": i, "id": case.id, "outcome": outcome, "detail": detail[:500]}), flush=True)


def probe(family, timeout):
    """[(case id, outcome, detail)] of one family, restarting the child after a crash or hang."""
    ids = None
    results, start = [], 0
    while True:
        cmd = [sys.executable, __file__, "--worker", family, "--start", str(start)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        current, lines = None, []
        timer = None

        def watchdog():
            proc.kill()

        while True:
            if timer:
                timer.cancel()
            timer = threading.Timer(timeout, watchdog)
            timer.start()
            line = proc.stdout.readline()
            if not line:
                break
            msg = json.loads(line)
            if "start" in msg:
                current = msg["start"]
            else:
                results.append((msg["id"], msg["outcome"], msg["detail"]))
                current = None
        timer.cancel()
        proc.wait()
        stderr = proc.stderr.read()
        if current is None:
            if proc.returncode != 0 and not results:
                raise SystemExit(f"probe: the {family} table did not load:\n{stderr[-3000:]}")
            return results
        if ids is None:
            ids = [c.id for c in load(family)]
        hung = proc.returncode == -9
        # under `tools/sanitize.py probe` the report's SUMMARY line (its tail is the shadow-byte legend)
        summary = re.search(r"SUMMARY: \w+Sanitizer: .*|\S+: runtime error: .*", stderr)
        tail = summary.group(0) if summary else stderr[-300:]
        results.append((ids[current], "hang" if hung else "crash",
                        f"timed out after {timeout}s" if hung else f"exit {proc.returncode}: {tail}"))
        start = current + 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--worker")
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.start)
        return 0
    sys.path.insert(0, str(TESTS))
    from malformed import OUTCOMES, tally

    rows, bad = [], []
    for family in args.families or families():
        results = probe(family, args.timeout)
        rows.append((family, len(results), tally([r[1] for r in results])))
        bad += [(family, *r) for r in results if r[1] not in ("clear", "correct")]
    print("| family | cases | " + " | ".join(OUTCOMES) + " |")
    print("|---|---:|" + "---:|" * len(OUTCOMES))
    for family, n, counts in rows:
        print(f"| {family} | {n} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    total = {o: sum(r[2][o] for r in rows) for o in OUTCOMES}
    print(f"| total | {sum(r[1] for r in rows)} | " + " | ".join(str(total[o]) for o in OUTCOMES) + " |")
    for family, case_id, outcome, detail in bad:
        print(f"\n{outcome.upper()} [{family}] {case_id}\n    {detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

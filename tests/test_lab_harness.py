"""The lab's harness: configs and overrides, jobs and threads, checkpoints and exact resume,
results.json and rendering, and the benchmark runner (on toy experiments, so these tests say what
the harness guarantees independently of any method)."""
import csv
import dataclasses
import json
import math
import os
import types
from typing import Tuple

import numpy as np
import pytest
import torch

from pyalgo.lab import harness as H
from pyalgo.lab.harness import bench as B
from pyalgo.lab.harness import runner
from pyalgo.lab.harness.config import diff, override


# -- configs ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Inner(H.Preset):
    epochs: int = 3
    lr: float = 1e-3
    seeds: Tuple[int, ...] = (0, 1)

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")


@dataclasses.dataclass(frozen=True)
class Outer(H.Preset):
    name: str = "a"
    inner: Inner = Inner()
    seed: int = 0
    flag: bool = False
    scale: float = 1.0
    tag: str = "x"

    @classmethod
    def tiny(cls):
        return cls(inner=Inner(epochs=1))

    @classmethod
    def quick(cls):
        return cls()


def test_presets_and_overrides():
    assert Outer.preset("tiny").inner.epochs == 1 and Outer.preset("quick") == Outer()
    with pytest.raises(ValueError, match="preset must be one of"):
        Outer.preset("full")  # not defined by this config
    c = override(Outer(), ["inner.epochs=7", "inner.seeds=[3,4,5]", "flag=True", "scale=2", "tag=hello world"])
    assert c.inner.epochs == 7 and c.inner.seeds == (3, 4, 5) and c.flag is True
    assert override(Outer(), ["name=[reinmax, st]"]).name == "['reinmax', 'st']"  # a str field stays a str
    assert override(Inner(), ["seeds=[1, two]"]).seeds == (1, "two")              # bare words in a list
    assert c.scale == 2.0 and isinstance(c.scale, float) and c.tag == "hello world"
    assert Outer().inner.epochs == 3  # the original is untouched (frozen)
    for bad, match in [("inner.nope=1", "has no field 'nope'"), ("inner.epochs=2.5", "expected a int"),
                       ("flag=1", "expected a bool"), ("noequals", "key=value"), ("name.x=1", "not a nested config"),
                       ("inner.epochs=0", "epochs must be >= 1")]:
        with pytest.raises(ValueError, match=match):
            override(Outer(), [bad])


def test_with_seed_shifts_every_seed():
    c = Outer().with_seed(10)
    assert c.seed == 10 and c.inner.seeds == (10, 11)


def test_diff_names_changed_keys():
    assert diff({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}}) == ("b.c: 2 -> 3",)
    assert diff({"a": [1, 2]}, {"a": [1, 2]}) == ()


# -- jobs and threads ----------------------------------------------------------------------------

def _job(seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    return float(torch.randn(1000, generator=g).sum())


def test_jobs_do_not_depend_on_workers():
    jobs = {f"s{s}": (s,) for s in range(4)}
    one = H.run_jobs(_job, jobs, workers=1, progress=False)
    two = H.run_jobs(_job, jobs, workers=2, progress=False)
    assert one == two and list(two) == list(jobs)


def test_threads_restored(one_thread):
    with H.torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1


def test_available_cpus_respects_affinity():
    if hasattr(os, "sched_getaffinity"):
        assert H.available_cpus() == len(os.sched_getaffinity(0))


def test_progress_honours_tqdm_disable(monkeypatch):
    from pyalgo.lab.harness.jobs import progress_enabled

    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not progress_enabled(True)
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert progress_enabled(True) and not progress_enabled(False)


# -- checkpoints and the training loop ----------------------------------------------------------

def _train(epochs, path, resume, lr=0.1):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(2)

    class NumpyPart:
        def state_dict(self):
            return H.numpy_rng_state(rng)

        def load_state_dict(self, state):
            H.set_numpy_rng_state(rng, state)

    def epoch(_):
        x = torch.randn(8, 3, generator=gen) + float(rng.normal())
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    history = H.fit(epochs, epoch, state=H.TrainState(model=model, opt=opt, gen=gen, rng=NumpyPart()),
                    checkpoint=H.Checkpoint(path, {"lr": lr, "sizes": (3, 1)}), resume=resume, progress=False)
    return model.weight.detach().clone(), history


def test_exact_resume(tmp_path):
    w_full, h_full = _train(6, tmp_path / "a.pt", resume=False)
    _train(3, tmp_path / "b.pt", resume=False)  # "interrupted" after 3 epochs
    w_res, h_res = _train(6, tmp_path / "b.pt", resume=True)
    assert torch.equal(w_full, w_res) and h_full["loss"] == h_res["loss"] and len(h_res["seconds"]) == 6
    saved = torch.load(tmp_path / "b.pt", weights_only=True)  # tensors and plain data only
    assert saved["epoch"] == 5 and saved["config"] == {"lr": 0.1, "sizes": [3, 1]}
    assert not (tmp_path / "b.pt.tmp").exists()


def test_resume_refuses_other_config(tmp_path):
    _train(2, tmp_path / "c.pt", resume=False)
    with pytest.raises(H.CheckpointMismatch, match=r"lr: 0.1 -> 0.2"):
        _train(4, tmp_path / "c.pt", resume=True, lr=0.2)


def test_non_finite_loss_stops(tmp_path):
    with pytest.raises(FloatingPointError, match="epoch 1"):
        H.fit(3, lambda e: {"loss": float("nan") if e == 1 else 1.0}, state=H.TrainState(), progress=False)


# -- results and the runner ---------------------------------------------------------------------

def test_to_json_rules():
    from pyalgo.lab.harness.results import to_json

    out = to_json({"a": (1, np.float32(2.5)), "b": torch.tensor([1.0, float("nan")]), "c": np.arange(2)})
    assert out["a"] == [1, 2.5] and out["c"] == [0, 1] and math.isnan(out["b"][1])
    with pytest.raises(TypeError, match=r"results.k: keys must be strings"):
        to_json({"k": {(8, 4): 1}})
    with pytest.raises(TypeError, match="cannot store a object"):
        to_json({"k": object()})


@dataclasses.dataclass(frozen=True)
class ToyConfig(H.Preset):
    seeds: Tuple[int, ...] = (0, 1, 2)
    n: int = 100

    @classmethod
    def tiny(cls):
        return cls(n=10)

    @classmethod
    def quick(cls):
        return cls()


def _toy_run(cfg, rt):
    torch.set_num_threads(1)  # a careless experiment; the harness restores the caller's count
    torch.manual_seed(123)    # ... and the caller's RNG state
    with rt.timed("jobs"):
        values = rt.map(_job, {str(s): (s,) for s in cfg.seeds}, desc="toy")
    return {"values": values, "mean": float(np.mean(list(values.values()))), "paper": {"mean": 0.5}}


def _toy_render(doc, out):
    md = H.Markdown()
    H.header(md, doc)
    r = doc["results"]
    md.p(f"{len(doc['config']['seeds'])} seeds of n = {doc['config']['n']}.")
    md.table(["seed", "value"], [[k, H.num(v, 3)] for k, v in r["values"].items()])
    return md.text()


@pytest.fixture
def toy(monkeypatch):
    module = types.SimpleNamespace(TITLE="Toy", Config=ToyConfig, run=_toy_run, render=_toy_render)
    monkeypatch.setattr(runner, "experiment", lambda name: module)
    return module


def test_reproduce_writes_results_then_renders(toy, tmp_path):
    threads = torch.get_num_threads()
    state = torch.get_rng_state()
    doc = H.reproduce("toy", preset="tiny", overrides=["n=7"], seed=5, out=tmp_path, workers=1, progress=False)
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == doc and doc["config"] == {"seeds": [5, 6, 7], "n": 7} and doc["preset"] == "tiny"
    assert doc["command"] == "pyalgo reproduce toy --preset tiny --seed 5 --set n=7"
    assert set(doc["environment"]) >= {"pyalgo", "torch", "python", "machine", "git_sha", "workers", "threads"}
    assert doc["seconds"]["jobs"] > 0 and doc["seconds"]["total"] >= doc["seconds"]["jobs"]
    report = (tmp_path / "report.md").read_text()
    assert "# Toy" in report and "3 seeds of n = 7." in report and "`--full`" in report
    (tmp_path / "report.md").unlink()
    H.render(tmp_path)
    assert (tmp_path / "report.md").read_text() == report


def test_bad_out_is_one_clear_error(toy, tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(H.OutputError, match="is a file, not a folder"):
        H.reproduce("toy", out=afile, progress=False)
    with pytest.raises(H.OutputError, match="holds no results.json"):
        H.render(tmp_path)


def test_experiments_are_one_list():
    from pyalgo import cli

    assert cli.EXPERIMENTS == runner.EXPERIMENTS and cli.PRESETS == H.PRESETS


# -- the benchmark runner -----------------------------------------------------------------------

def _setup(shape, dtype, device):
    x = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
    return B.Inputs((x,), (x,), items=shape[0], bytes=2 * x.numel() * x.element_size())


def _toy_bench(wrong: bool = False):
    def ours(x):
        return x.softmax(-1) + (0.1 if wrong else 0.0)

    def theirs(x):
        e = x.exp()
        return e / e.sum(-1, keepdim=True)

    case = B.Case("softmax", _setup, [B.Provider("pyalgo", ours), B.Provider("reference", theirs),
                                      B.Provider("huge", theirs, skip=lambda s: "too big" if s[0] > 8 else None)],
                  shapes=[(16, 8), (4, 8)], quick_shapes=[(4, 8)], memory=True, dtypes=(torch.float32, torch.float64))
    return types.SimpleNamespace(TITLE="Toy bench", CASES=[case], NOTES=["A note."],
                                 TARGETS=[B.speedup("softmax", (16, 8), "reference", 0.01),
                                          B.speedup("softmax", (16, 8), "reference", 1e6)])


def test_bench_runner_rows_csv_and_markdown(tmp_path):
    opt = B.Options(threads=[1], min_run_time=0.01, dtypes=["float32"], log=lambda s: None)
    assert B.main("toy", _toy_bench(), opt, tmp_path, "pyalgo bench toy") == 0
    rows = B.read_csv(tmp_path / "toy.csv")
    with open(tmp_path / "toy.csv", newline="") as f:
        assert next(csv.reader(f)) == B.COLUMNS
    assert {r["dtype"] for r in rows} == {"float32"}
    timed = [r for r in rows if r["median_ms"]]
    assert {(r["provider"], r["mode"]) for r in timed} >= {(p, m) for p in ("pyalgo", "reference") for m in B.MODES}
    for r in timed:
        assert 0 < float(r["p20_ms"]) <= float(r["median_ms"]) <= float(r["p80_ms"])
        assert "per_s=" in r["extra"] and "peak_mb=" in r["extra"]
        if r["provider"] == "pyalgo":
            assert float(r["ratio"]) == 1.0
    huge = [r for r in rows if r["provider"] == "huge" and r["shape"] == "16x8"]
    assert huge and all(r["status"] == "skipped (too big)" and not r["median_ms"] for r in huge)
    md = (tmp_path / "toy.md").read_text()
    assert "## softmax" in md and "| PASS |" in md and "| MISS |" in md and "A note." in md
    B.main("toy", _toy_bench(), opt, tmp_path, "again")  # appends under the same header
    assert len(B.read_csv(tmp_path / "toy.csv")) == 2 * len(rows)


def test_bench_check_failure_is_reported(tmp_path):
    opt = B.Options(threads=[1], min_run_time=0.01, quick=True, log=lambda s: None)
    assert B.main("toy", _toy_bench(wrong=True), opt, tmp_path, "x") == 1
    rows = B.read_csv(tmp_path / "toy.csv")
    assert {r["shape"] for r in rows} == {"4x8"}  # quick shapes
    assert all(r["status"].startswith("CHECK FAILED") for r in rows if r["provider"] == "pyalgo")
    assert "**Check failures:**" in (tmp_path / "toy.md").read_text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_bench_without_cuda_skips_in_one_line(tmp_path):
    lines = []
    opt = B.Options(devices=["cuda"], threads=[1], log=lines.append)
    assert B.main("toy", _toy_bench(), opt, tmp_path, "x") == 0
    assert len(lines) == 1 and "no CUDA device" in lines[0] and not (tmp_path / "toy.csv").exists()

"""Kill-and-resume for every trainer that checkpoints (issue 14, "Resume and checkpoints"):

    "kill-and-resume tests for EVERY trainer that checkpoints (edge, wireless students incl. RL /
    training assistance, energy, any other using the harness): run N epochs straight vs run k epochs,
    "kill", resume to N -> identical history, identical final parameters (bitwise at a fixed thread
    count)."

The "kill" is an exception raised right after the k-th checkpoint is written (the harness' save is
wrapped), and, for the edge trainer, a real SIGKILL of a child process after its k-th checkpoint.
Before resuming, the global torch / numpy / Python RNGs are scrambled and the model is rebuilt from
other weights, as a fresh process would have them: everything the run depends on must come back from
the checkpoint. Every checkpoint must load with `torch.load(weights_only=True)` (no pickled objects).
"""
import math
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from pyalgo.lab.harness import checkpoint as ckpt_module

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Killed(Exception):
    """Stands for the process dying right after a checkpoint was written."""


@pytest.fixture
def kill_after(monkeypatch):
    """kill_after(k): the k-th checkpoint save (and every later one) raises Killed once written."""
    original = ckpt_module.Checkpoint.save

    def arm(k):
        count = {"n": 0}

        def save(self, *args, **kwargs):
            original(self, *args, **kwargs)
            count["n"] += 1
            if count["n"] == k:
                raise Killed

        monkeypatch.setattr(ckpt_module.Checkpoint, "save", save)
        return lambda: monkeypatch.setattr(ckpt_module.Checkpoint, "save", original)
    return arm


def scramble_global_rngs():
    """What a fresh process would have: other global RNG states."""
    torch.manual_seed(987654)
    np.random.seed(4321)
    random.seed(99)


def flat_tensors(obj, prefix=""):
    """{dotted name: tensor} of a nested state dict (lists, dicts, tensors; numbers kept as tensors)."""
    out = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flat_tensors(v, f"{prefix}.{k}"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(flat_tensors(v, f"{prefix}.{i}"))
    elif isinstance(obj, (int, float, bool)):
        out[prefix] = torch.tensor(obj)
    return out


def assert_same_state(a, b):
    fa, fb = flat_tensors(a), flat_tensors(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert torch.equal(fa[k], fb[k]), k


def assert_same_history(a, b):
    assert set(a) == set(b)
    for key in a:
        if key == "seconds":
            assert len(a[key]) == len(b[key])
            continue
        assert len(a[key]) == len(b[key]), key
        for x, y in zip(a[key], b[key]):
            assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), (key, a[key], b[key])


# -- edge ---------------------------------------------------------------------------------------------

EDGE = dict(env="small", steps_per_epoch=48, updates_per_epoch=3, batch_size=16, num_envs=4, hidden=16, T=3,
            eval_seeds=(100,), progress=False, seed=3)


@pytest.mark.parametrize("agent,extra", [("adsac", {}), ("adsac", dict(attention_mode="legacy_batch")),
                                         ("d2sac", dict(agent_kwargs=dict(auto_alpha=True))), ("sac", {}),
                                         ("dqn", dict(warmup_steps=48, agent_kwargs=dict(target_update=4)))])
def test_edge_kill_and_resume(tmp_path, kill_after, agent, extra):
    from pyalgo.lab.edge.train import TrainConfig, train

    cfg = dict(EDGE, agent=agent, **extra)
    straight = train(TrainConfig(epochs=4, **cfg))
    disarm = kill_after(2)
    with pytest.raises(Killed):
        train(TrainConfig(epochs=4, checkpoint_dir=str(tmp_path), **cfg))
    disarm()
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert saved["epoch"] == 1 and len(saved["history"]["train_return"]) == 2
    scramble_global_rngs()
    resumed = train(TrainConfig(epochs=4, checkpoint_dir=str(tmp_path), resume=True, **cfg))
    assert_same_history(straight.curves, resumed.curves)
    assert_same_state(straight.agent.state_dict(), resumed.agent.state_dict())


def test_edge_kill_between_checkpoints(tmp_path):
    """checkpoint_every=2, killed during epoch 3 (after the epoch-2 checkpoint): the resumed run redoes
    epoch 3 from the checkpoint and still matches the straight run, finished-episode history included."""
    from pyalgo.lab.edge.train import TrainConfig, train

    cfg = dict(EDGE, agent="sac", checkpoint_every=2, num_envs=2, steps_per_epoch=128)   # episodes end
    straight = train(TrainConfig(epochs=5, **cfg))

    def log(record):
        if record["epoch"] == 2:
            raise Killed
    with pytest.raises(Killed):
        train(TrainConfig(epochs=5, checkpoint_dir=str(tmp_path), **cfg), log=log)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1
    scramble_global_rngs()
    resumed = train(TrainConfig(epochs=5, checkpoint_dir=str(tmp_path), resume=True, **cfg))
    assert_same_history(straight.curves, resumed.curves)
    assert_same_state(straight.agent.state_dict(), resumed.agent.state_dict())
    assert any(not math.isnan(v) for v in resumed.curves["train_return"])


def test_edge_sigkill_and_resume(tmp_path):
    """A real SIGKILL of the training process right after its second checkpoint."""
    from pyalgo.lab.edge.train import TrainConfig, train

    cfg = dict(EDGE, agent="d2sac")
    script = textwrap.dedent(f"""
        import os, signal, torch
        torch.set_num_threads(1)
        from pyalgo.lab.edge.train import TrainConfig, train
        def log(record):
            if record["epoch"] == 1:            # fit saves before it logs: epoch 1's checkpoint is on disk
                os.kill(os.getpid(), signal.SIGKILL)
        train(TrainConfig(epochs=4, checkpoint_dir={str(tmp_path)!r}, **{cfg!r}), log=log)
    """)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1
    straight = train(TrainConfig(epochs=4, **cfg))
    resumed = train(TrainConfig(epochs=4, checkpoint_dir=str(tmp_path), resume=True, **cfg))
    assert_same_history(straight.curves, resumed.curves)
    assert_same_state(straight.agent.state_dict(), resumed.agent.state_dict())


# -- energy -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def multilabel():
    from types import SimpleNamespace

    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 4, generator=g)
    x = torch.randn(160, 6, generator=g)
    y = (torch.rand(160, 4, generator=g) < torch.sigmoid(x @ W)).float()
    return SimpleNamespace(x_train=x[:128], y_train=y[:128], x_test=x[128:], y_test=y[128:])


def _energy_state(r):
    return {"energy": r.energy.state_dict(), "tau": r.tau.state_dict() if r.tau is not None else {}}


@pytest.mark.parametrize("method,kw", [("minmin", dict(dropout=0.3, track_nll=True)),
                                       ("minmin", dict(tau="free", grad_clip=1.0)),
                                       ("sparsemax", {}), ("mcmc", dict(model="pairwise")), ("bce", {})])
def test_energy_multilabel_kill_and_resume(multilabel, tmp_path, kill_after, method, kw):
    from pyalgo.lab.energy import train as T

    common = dict(hidden=8, num_samples=4, seed=3, batch_size=32, **kw)
    straight = T.train_multilabel(multilabel, method, epochs=4, **common)
    disarm = kill_after(2)
    with pytest.raises(Killed):
        T.train_multilabel(multilabel, method, epochs=4, checkpoint=tmp_path / "m.pt", **common)
    disarm()
    assert torch.load(tmp_path / "m.pt", weights_only=True)["epoch"] == 1
    scramble_global_rngs()
    resumed = T.train_multilabel(multilabel, method, epochs=4, checkpoint=tmp_path / "m.pt", resume=True, **common)
    assert resumed.curve == straight.curve and resumed.train_nll == straight.train_nll
    assert resumed.metrics == straight.metrics
    assert_same_state(_energy_state(straight), _energy_state(resumed))


@pytest.mark.parametrize("method", ["minmin", "mcmc"])
def test_energy_ranking_kill_and_resume(tmp_path, kill_after, method):
    from pyalgo.energy.data import load_label_ranking
    from pyalgo.lab.energy import train as T

    iris = load_label_ranking("iris")
    kw = dict(train_idx=np.arange(0, 150, 2), test_idx=np.arange(1, 150, 2), hidden=8, num_samples=4, seed=2)
    straight = T.train_ranking(iris, method, epochs=3, **kw)
    disarm = kill_after(1)
    with pytest.raises(Killed):
        T.train_ranking(iris, method, epochs=3, checkpoint=tmp_path / "r.pt", **kw)
    disarm()
    scramble_global_rngs()
    resumed = T.train_ranking(iris, method, epochs=3, checkpoint=tmp_path / "r.pt", resume=True, **kw)
    assert resumed.curve == straight.curve and resumed.metrics == straight.metrics
    assert_same_state(_energy_state(straight), _energy_state(resumed))


# -- wireless students (supervised, unsupervised, RL, training assistance) ---------------------------

@pytest.mark.parametrize("mode,student", [("supervised", "mlp"), ("unsupervised", "gnn"), ("rl", "mlp"),
                                          ("unsupervised+assist", "mlp"), ("rl+assist", "gnn")])
def test_wireless_kill_and_resume(tmp_path, kill_after, mode, student):
    from pyalgo.lab.wireless import DistillConfig, train_student
    from pyalgo.wireless import GNNStudent, MLPStudent, rayleigh

    K = 3
    g = torch.Generator().manual_seed(0)
    channels, evaluation = rayleigh(64, K, generator=g), rayleigh(16, K, generator=g)

    def build(seed):
        torch.manual_seed(seed)
        return MLPStudent(K, hidden=(16,)) if student == "mlp" else GNNStudent(hidden=8, layers=2)

    config = DistillConfig(mode, epochs=3, batch_size=16, lr=1e-2, seed=5,
                           **({"beta_schedule": "decreasing"} if "assist" in mode else {}))
    common = dict(channels=channels, eval_channels=evaluation, progress=False)
    reference = build(0)
    expected = train_student(reference, config, **common)
    disarm = kill_after(1)
    with pytest.raises(Killed):
        train_student(build(0), config, checkpoint=str(tmp_path / "w.pt"), **common)
    disarm()
    assert torch.load(tmp_path / "w.pt", weights_only=True)["epoch"] == 0
    scramble_global_rngs()
    resumed = build(123)                                   # a fresh process would start from other weights
    history = train_student(resumed, config, checkpoint=str(tmp_path / "w.pt"), resume=True, **common)
    assert_same_history(expected, history)
    assert_same_state(reference.state_dict(), resumed.state_dict())

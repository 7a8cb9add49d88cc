"""Issue 14 findings of the lab (trainers, resume, checkpoints, the teacher-label cache) and of the edge
configs: one test per finding, each quoting it. The kill-and-resume tests of every trainer are in
tests/test_resume.py."""
import math
import os
import warnings

import numpy as np
import pytest
import torch

from pyalgo.lab.edge.train import TrainConfig, train
from pyalgo.lab import harness as H
from pyalgo.lab.harness import CheckpointMismatch

pytestmark = pytest.mark.usefixtures("one_thread")

EDGE = dict(env="small", steps_per_epoch=48, updates_per_epoch=3, batch_size=16, num_envs=4, hidden=16, T=3,
            eval_seeds=(100,), progress=False, seed=3, agent="sac")


# -- "edge configs accept `hidden=0`, `epsilon=2`, `warmup_steps=-5` and divide by zero on
#     `checkpoint_every=0`" -> every field validated, the error naming the config class and the field

@pytest.mark.parametrize("kwargs,field", [
    (dict(hidden=0), "hidden"),
    (dict(agent="dqn", agent_kwargs=dict(epsilon=2)), "epsilon"),
    (dict(warmup_steps=-5), "warmup_steps"),
    (dict(checkpoint_every=0), "checkpoint_every"),
    (dict(gamma=1.5), "gamma"),
    (dict(gamma=float("nan")), "gamma"),
    (dict(seed=-1), "seed"),
    (dict(world_seed="0"), "world_seed"),
    (dict(rng="pcg"), "rng"),
    (dict(eval_seeds=()), "eval_seeds"),
    (dict(attention_mode="none"), "attention_mode"),
    (dict(agent_kwargs=dict(actor_lr=-1.0)), "actor_lr"),
    (dict(agent_kwargs=dict(learning_rate=1e-3)), "learning_rate"),
    (dict(resume=True), "resume"),
    (dict(epochs=2 ** 63), "epochs"),
    (dict(T=0), "T"),
    (dict(hidden=12), "hidden"),          # adsac's attention needs a multiple of 8
])
def test_edge_configs_validate_every_field(kwargs, field):
    with pytest.raises(ValueError) as info:
        TrainConfig(**{**dict(agent="adsac"), **kwargs})
    assert "pyalgo.lab.edge.train.TrainConfig" in str(info.value) and field in str(info.value)


@pytest.mark.parametrize("make,field", [
    (lambda: __import__("pyalgo.lab.edge.reproduce", fromlist=["Schedule"]).Schedule(hidden=0), "Schedule.hidden"),
    (lambda: __import__("pyalgo.lab.edge.reproduce", fromlist=["Schedule"]).Schedule(eval_seeds=(-1,)),
     "Schedule.eval_seeds"),
    (lambda: __import__("pyalgo.lab.edge.reproduce", fromlist=["Config"]).Config(actor_lr=float("inf")),
     "Config.actor_lr"),
    (lambda: __import__("pyalgo.lab.edge.reproduce", fromlist=["Config"]).Config(seeds=(0, 0)), "Config.seeds"),
    (lambda: __import__("pyalgo.lab.edge.reproduce", fromlist=["Config"]).Config(checkpoints="yes"),
     "Config.checkpoints"),
])
def test_edge_reproduce_configs_validate_every_field(make, field):
    cls, name = field.split(".")
    with pytest.raises(ValueError, match=rf"pyalgo\.lab\.edge\.reproduce\.{cls}\W.*{name}"):
        make()


def test_edge_agents_validate_their_arguments():
    from pyalgo.edge.agents import make_agent
    from pyalgo.edge.config import EdgeConfig

    cfg = EdgeConfig.preset("small")
    with pytest.raises(ValueError, match=r"pyalgo.edge.agents.make_agent: epsilon"):
        make_agent("dqn", cfg, 16, epsilon=2)
    with pytest.raises(ValueError, match=r"pyalgo.edge.agents.make_agent: hidden"):
        make_agent("adsac", cfg, 0)
    with pytest.raises(ValueError, match=r"pyalgo.edge.agents.make_agent: tau"):
        make_agent("sac", cfg, 16, tau=0.0)


# -- "edge resume loses the finished-episode history (`train_return` differs after a kill at epoch 3)"

def test_edge_resume_keeps_finished_episode_history(tmp_path):
    cfg = dict(EDGE, num_envs=2, steps_per_epoch=128)          # episodes finish within the run

    def kill(record):
        if record["epoch"] == 3:
            raise KeyboardInterrupt
    straight = train(TrainConfig(epochs=6, **cfg))
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(epochs=6, checkpoint_dir=str(tmp_path), **cfg), log=kill)
    resumed = train(TrainConfig(epochs=6, checkpoint_dir=str(tmp_path), resume=True, **cfg))
    assert np.array_equal(straight.curves["train_return"], resumed.curves["train_return"], equal_nan=True)
    assert np.isfinite(resumed.curves["train_return"][-1])


# -- "never compares the saved config (a changed `num_envs` gives a hybrid run, `seed` is ignored,
#     `epochs=2` returns 3 epochs)"

def test_edge_resume_compares_the_saved_config(tmp_path):
    train(TrainConfig(epochs=3, checkpoint_dir=str(tmp_path), **EDGE))
    for change, text in ((dict(num_envs=2), "num_envs: 4 -> 2"), (dict(seed=4), "seed: 3 -> 4"),
                         (dict(epochs=2), "epochs: 3 -> 2")):
        with pytest.raises(CheckpointMismatch, match=text) as info:
            train(TrainConfig(**{**EDGE, "epochs": 3, "checkpoint_dir": str(tmp_path), "resume": True, **change}))
        assert "pyalgo.lab.edge.train" in str(info.value) and str(tmp_path) in str(info.value)
    # epochs may grow (documented): the run is extended
    assert train(TrainConfig(**{**EDGE, "epochs": 4, "checkpoint_dir": str(tmp_path), "resume": True})
                 ).curves["epoch"] == [0, 1, 2, 3]


def test_energy_resume_refuses_fewer_epochs(tmp_path):
    from types import SimpleNamespace

    from pyalgo.lab.energy import train as T

    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, :3] > 0).float()
    data = SimpleNamespace(x_train=x, y_train=y, x_test=x, y_test=y)
    T.train_multilabel(data, "bce", hidden=4, epochs=3, checkpoint=tmp_path / "e.pt")
    with pytest.raises(CheckpointMismatch, match=r"pyalgo.lab.energy.train_multilabel: .*epochs: 3 -> 2"):
        T.train_multilabel(data, "bce", hidden=4, epochs=2, checkpoint=tmp_path / "e.pt", resume=True)


# -- "a corrupt checkpoint or teacher-label cache gives raw `EOFError`/`UnpicklingError`"

@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "not_a_checkpoint"])
def test_corrupt_checkpoint_is_a_one_line_error_naming_the_file(tmp_path, damage):
    train(TrainConfig(epochs=1, checkpoint_dir=str(tmp_path), **EDGE))
    path = tmp_path / "last.pt"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x02garbage" * 50)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(H.CheckpointError) as info:
        train(TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), resume=True, **EDGE))
    text = str(info.value)
    assert "\n" not in text and str(path) in text and "pyalgo.lab.edge.train" in text
    assert isinstance(info.value, ValueError)


def test_corrupt_wireless_checkpoint_names_the_file(tmp_path):
    from pyalgo.lab.wireless import DistillConfig, train_student
    from pyalgo.wireless import MLPStudent, rayleigh

    G = rayleigh(32, 3, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "w.pt"
    path.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(H.CheckpointError, match=r"pyalgo.lab.wireless.train_student: checkpoint .*w\.pt"):
        train_student(MLPStudent(3, hidden=(8,)), DistillConfig("unsupervised", epochs=1, batch_size=16),
                      channels=G, checkpoint=str(path), resume=True, progress=False)


@pytest.mark.parametrize("damage", ["truncate_chunk", "garbage_chunk", "wrong_shape_chunk", "corrupt_index"])
def test_corrupt_teacher_label_cache_is_rebuilt(tmp_path, damage):
    from pyalgo.lab.wireless import teacher_labels
    from pyalgo.wireless import rayleigh

    G = rayleigh(24, 3, generator=torch.Generator().manual_seed(1))
    expected = teacher_labels(G, chunk=8, progress=False)
    cache = tmp_path / "labels"
    teacher_labels(G, chunk=8, cache_path=str(cache), progress=False)
    chunk = cache / "chunk_000001.pt"
    if damage == "truncate_chunk":
        chunk.write_bytes(chunk.read_bytes()[:100])
    elif damage == "garbage_chunk":
        chunk.write_bytes(os.urandom(300))
    elif damage == "wrong_shape_chunk":
        torch.save(expected.take(slice(0, 3))._asdict(), chunk)
    else:
        (cache / "meta.json").write_text('{"fingerprint": "abc', encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="corrupt"):
        labels = teacher_labels(G, chunk=8, cache_path=str(cache), progress=False)
    for got, want in zip(labels, expected):
        assert (got is None and want is None) or torch.equal(got, want)
    with warnings.catch_warnings():                              # rewritten: the next call is clean
        warnings.simplefilter("error")
        again = teacher_labels(G, chunk=8, cache_path=str(cache), progress=False)
    assert torch.equal(again.p, expected.p)


# -- "Determinism of trainers: deterministic at a fixed thread count (torch's CPU matmul reduction
#     order changes with threads)": same seed twice -> bitwise equal, at 1 and at 2 threads

@pytest.mark.parametrize("threads", [1, 2])
def test_trainers_are_deterministic_at_a_fixed_thread_count(threads):
    from types import SimpleNamespace

    from pyalgo.lab.energy import train as T
    from pyalgo.lab.wireless import DistillConfig, train_student
    from pyalgo.wireless import MLPStudent, rayleigh

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        def edge():
            r = train(TrainConfig(epochs=2, **{**EDGE, "agent": "d2sac", "hidden": 32}))
            return r.curves, r.agent.state_dict()

        g = torch.Generator().manual_seed(0)
        x = torch.randn(96, 6, generator=g)
        data = SimpleNamespace(x_train=x, y_train=(x[:, :4] > 0).float(), x_test=x, y_test=(x[:, :4] > 0).float())

        def energy():
            r = T.train_multilabel(data, "minmin", hidden=32, epochs=2, num_samples=4, dropout=0.2, seed=1)
            return r.curve, r.energy.state_dict()

        G = rayleigh(64, 4, generator=torch.Generator().manual_seed(2))

        def wireless():
            torch.manual_seed(0)
            s = MLPStudent(4, hidden=(32, 32))
            h = train_student(s, DistillConfig("rl", epochs=2, batch_size=16, seed=3), channels=G, progress=False)
            h.pop("seconds")
            return h, s.state_dict()

        for run in (edge, energy, wireless):
            (h1, s1), (h2, s2) = run(), run()
            h1 = {k: v for k, v in h1.items() if k != "seconds"} if isinstance(h1, dict) else h1
            h2 = {k: v for k, v in h2.items() if k != "seconds"} if isinstance(h2, dict) else h2
            assert repr(h1) == repr(h2), run.__name__
            f1, f2 = _flat(s1), _flat(s2)
            assert f1.keys() == f2.keys() and all(torch.equal(f1[k], f2[k]) for k in f1), run.__name__
    finally:
        torch.set_num_threads(before)


def _flat(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if isinstance(obj, dict):
        return {k: v for key, val in obj.items() for k, v in _flat(val, f"{prefix}.{key}").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, val in enumerate(obj) for k, v in _flat(val, f"{prefix}.{i}").items()}
    return {prefix: torch.tensor(obj)} if isinstance(obj, (int, float, bool)) else {}


# -- "checkpoints must load with weights_only=True — keep it so; no pickled objects"

def test_checkpoints_hold_no_pickled_objects(tmp_path):
    train(TrainConfig(epochs=1, checkpoint_dir=str(tmp_path), **{**EDGE, "agent": "dqn"}))
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert set(saved) == {"config", "epoch", "history", "state"}
    assert set(saved["state"]) >= {"agent", "loop", "generator", "torch_rng"}
    assert isinstance(saved["state"]["loop"]["env"], dict) and "buffer" in saved["state"]["loop"]


def test_fit_rejects_bad_checkpoint_interval():
    """"divide by zero on `checkpoint_every=0`": the harness refuses every < 1 itself too."""
    from pyalgo.lab.harness import TrainState, fit

    with pytest.raises(ValueError, match="every"):
        fit(2, lambda e: {"loss": 1.0}, state=TrainState(), every=0, progress=False, name="pyalgo.lab.test")
    assert math.isfinite(fit(1, lambda e: {"loss": 1.0}, state=TrainState(), progress=False)["loss"][0])


@pytest.mark.parametrize("threshold", [-1.0, 0.0, 17.0])
def test_vae_threshold_outside_the_pixel_range_is_refused(threshold):
    # threshold -1 (or above the largest pixel) binarised every image to all ones (all zeros)
    from pyalgo.lab.discrete.reproduce import VAEConfig
    with pytest.raises(ValueError, match=r"VAEConfig.threshold must be in \(0, 16"):
        VAEConfig(threshold=threshold)

"""The edge training loop (pyalgo.lab.edge.train): a CI-sized learning test, exact resume from
checkpoints holding tensors and plain data only, the settings check on resume, reproducibility,
malformed configurations, the caller's RNG left alone."""
import math

import numpy as np
import pytest
import torch

from pyalgo.edge.episodes import evaluate, evaluate_heuristic
from pyalgo.lab.edge.train import TrainConfig, train
from pyalgo.lab.harness import CheckpointMismatch

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(env="small", epochs=10, steps_per_epoch=400, updates_per_epoch=200, batch_size=64, num_envs=8,
             hidden=64, eval_every=10, eval_seeds=(100,), progress=False, agent_kwargs=dict(actor_lr=1e-3))
EVAL_SEEDS = tuple(range(100, 108))
RESUME = dict(env="small", steps_per_epoch=64, updates_per_epoch=5, batch_size=32, num_envs=4, hidden=32,
              eval_seeds=(100,), progress=False, seed=3)


@pytest.fixture(scope="module")
def random_baseline():
    return evaluate_heuristic("random", "small", 0, seeds=EVAL_SEEDS)["return"].mean()


@pytest.mark.parametrize("agent", ["d2sac", "adsac"])
def test_diffusion_agents_learn_to_beat_random(agent, random_baseline):
    """Spec §5.8 (CI-sized): 2000 updates on the small preset beat Random and reach RoundRobin."""
    result = train(TrainConfig(agent=agent, seed=0, **SMALL))
    ret = evaluate(result.agent, "small", 0, EVAL_SEEDS)["return"].mean()
    round_robin = evaluate_heuristic("roundrobin", "small", 0, seeds=EVAL_SEEDS)["return"].mean()
    assert ret > max(random_baseline, round_robin), (ret, random_baseline, round_robin)
    assert math.isfinite(result.curves["eval_return"][-1]) and result.curves["updates"][-1] == 2000


@pytest.mark.parametrize("agent,extra", [("d2sac", {}), ("adsac", dict(attention_mode="legacy_batch")),
                                         ("dqn", dict(warmup_steps=64))])
def test_resume_continues_exactly(tmp_path, agent, extra):
    """Interrupted (2 epochs, checkpoint) + resumed (to 3) == 3 epochs straight, bit for bit; the legacy
    attention's dropout draws from the global torch RNG, which the checkpoint holds too."""
    cfg = dict(RESUME, agent=agent, **extra)
    straight = train(TrainConfig(epochs=3, **cfg))
    train(TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), **cfg))
    saved = torch.load(tmp_path / "last.pt", weights_only=True)           # tensors and plain data only
    assert saved["epoch"] == 1 and saved["config"]["agent"] == agent
    resumed = train(TrainConfig(epochs=3, checkpoint_dir=str(tmp_path), resume=True, **cfg))
    nets = (lambda r: r.agent.q) if agent == "dqn" else (lambda r: r.agent.policy)
    for a, b in zip(nets(straight).parameters(), nets(resumed).parameters()):
        assert torch.equal(a, b)
    for key in ("eval_return", "train_return", "critic_loss", "updates", "env_steps"):
        assert np.array_equal(straight.curves[key], resumed.curves[key], equal_nan=True), key
    assert len(resumed.curves["seconds"]) == 3


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    cfg = dict(RESUME, agent="sac")
    train(TrainConfig(epochs=1, checkpoint_dir=str(tmp_path), **cfg))
    with pytest.raises(CheckpointMismatch, match=r"pyalgo.lab.edge.train: .*batch_size: 32 -> 16.*seed: 3 -> 4"):
        train(TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), resume=True, **{**cfg, "batch_size": 16, "seed": 4}))
    # epochs and the run controls may change: this resumes
    assert train(TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), resume=True, checkpoint_every=2,
                             **cfg)).curves["epoch"] == [0, 1]


def test_training_is_reproducible():
    cfg = dict(env="small", epochs=1, steps_per_epoch=64, updates_per_epoch=5, batch_size=32, num_envs=4, hidden=32,
               eval_seeds=(100,), progress=False, agent="sac")
    a, b = train(TrainConfig(seed=1, **cfg)), train(TrainConfig(seed=1, **cfg))
    c = train(TrainConfig(seed=2, **cfg))
    pa, pb, pc = (list(r.agent.policy.parameters())[0] for r in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


@pytest.mark.parametrize("kwargs,match", [
    (dict(agent="ppo"), r"agent must be one of"),
    (dict(num_envs=0), r"num_envs must be an integer >= 1"),
    (dict(batch_size=0), r"batch_size must be an integer >= 1"),
    (dict(updates_per_epoch=-1), r"updates_per_epoch must be an integer >= 0"),
    (dict(env="tiny"), r"preset"),
])
def test_bad_training_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(TrainConfig(**{**dict(epochs=1, progress=False), **kwargs}))


def test_training_leaves_the_global_torch_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train(TrainConfig(agent="d2sac", env="small", epochs=1, steps_per_epoch=32, updates_per_epoch=2, batch_size=16,
                      num_envs=4, hidden=16, eval_seeds=(100,), progress=False))
    assert torch.equal(torch.get_rng_state(), before)

"""Training and evaluation of the edge agents (pyalgo.edge.train): the evaluation harness against the
legacy goldens, a CI-sized learning test, exact resume from checkpoints, malformed configurations."""
import math

import numpy as np
import pytest
import torch

from pyalgo.edge.train import (TrainConfig, evaluate, evaluate_heuristic, layout_of, make_agent, run_episodes,
                               train)
from pyalgo.edge.config import EdgeConfig
from pyalgo.edge import EdgeAIGCEnv

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(env="small", epochs=10, steps_per_epoch=400, updates_per_epoch=200, batch_size=64, num_envs=8,
             hidden=64, eval_every=10, eval_seeds=(100,), progress=False, agent_kwargs=dict(actor_lr=1e-3))
EVAL_SEEDS = tuple(range(100, 108))


def test_harness_reproduces_the_legacy_goldens():
    """Spec §5.1 through the batched evaluation harness (several episodes stepped together)."""
    expected = {"roundrobin": (148.211467, 141), "crashavoid": (1113.677686, 9), "prophet": (1963.214182, 4)}
    for name, (ret, crashes) in expected.items():
        r = evaluate_heuristic(name, "adsac", 0, seeds=(0, 5), rng="legacy")
        assert r["return"][0] == pytest.approx(ret, abs=1e-5) and r["server_crashes"][0] == crashes
        assert r["steps"][0] == 1505


def test_run_episodes_counts_each_episode_once():
    seeds = (3, 4, 5)
    r = evaluate_heuristic("crashavoid", "small", 0, seeds=seeds)
    for i, seed in enumerate(seeds):
        env = EdgeAIGCEnv("small", world_seed=0)
        obs, info = env.reset(seed=seed)
        total, steps, done = 0.0, 0, False
        while not done:
            free = info["server_free"]
            obs, rew, term, trunc, info = env.step(int(np.argmax(free)) * env.config.n_models)
            total, steps, done = total + rew, steps + 1, term or trunc
        assert r["steps"][i] == steps and r["return"][i] == pytest.approx(total)
        assert r["server_crashes"][i] == info["n_crashes"] and r["tasks_finished"][i] == info["tasks_finished"]


def test_layouts_match_the_observations():
    for preset in ("adsac", "d2sac", "small"):
        cfg = EdgeConfig.preset(preset)
        L = layout_of(cfg)
        assert L.state_dim == cfg.obs_dim and L.n_servers * L.n_models == cfg.n_actions
    # adsac: server block e is [C/Cmax, avail/C, models]: the task part comes first
    cfg = EdgeConfig.preset("adsac")
    obs = EdgeAIGCEnv(cfg).reset(seed=0)[0]
    task, servers = layout_of(cfg).split(torch.from_numpy(obs)[None])
    assert task.shape == (1, 6) and servers.shape == (1, 10, 3) and torch.all(servers[0, :, 2] == 1.0)


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


def test_resume_continues_exactly(tmp_path):
    cfg = dict(env="small", steps_per_epoch=64, updates_per_epoch=5, batch_size=32, num_envs=4, hidden=32,
               eval_seeds=(100,), progress=False, agent="d2sac", seed=3)
    straight = train(TrainConfig(epochs=3, **cfg))
    train(TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), **cfg))
    resumed = train(TrainConfig(epochs=3, checkpoint_dir=str(tmp_path), resume=True, **cfg))
    for a, b in zip(straight.agent.policy.parameters(), resumed.agent.policy.parameters()):
        assert torch.equal(a, b)
    for key in ("eval_return", "train_return", "critic_loss", "updates", "env_steps"):
        assert np.allclose(straight.curves[key], resumed.curves[key], equal_nan=True), key


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
    (dict(updates_per_epoch=-1), r"updates_per_epoch must be >= 0"),
    (dict(env="tiny"), r"preset"),
])
def test_bad_training_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(TrainConfig(**{**dict(epochs=1, progress=False), **kwargs}))


def test_agents_reject_wrong_observation_shapes():
    agent = make_agent("adsac", EdgeConfig.preset("small"), hidden=32)
    with pytest.raises(ValueError, match=r"observations must have shape \(batch, 15\), got \(2, 36\)"):
        agent.act(np.zeros((2, 36), np.float32))
    with pytest.raises(ValueError, match=r"make_agent: agent must be one of"):
        make_agent("a2c", EdgeConfig.preset("small"))


def test_training_leaves_the_global_torch_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train(TrainConfig(agent="d2sac", env="small", epochs=1, steps_per_epoch=32, updates_per_epoch=2, batch_size=16,
                      num_envs=4, hidden=16, eval_seeds=(100,), progress=False))
    assert torch.equal(torch.get_rng_state(), before)

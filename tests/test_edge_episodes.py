"""The evaluation protocol and the agent factory of pyalgo.edge (`pyalgo.edge.episodes`, `make_agent`):
the batched evaluation against the legacy goldens, one count per episode, agents sized by the
observation layout, malformed agents."""
import numpy as np
import pytest
import torch

from pyalgo.edge import EdgeAIGCEnv
from pyalgo.edge.agents import make_agent
from pyalgo.edge.config import EdgeConfig
from pyalgo.edge.episodes import evaluate, evaluate_heuristic

pytestmark = pytest.mark.usefixtures("one_thread")


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
        L = cfg.obs_layout
        assert L.state_dim == cfg.obs_dim and L.n_servers * L.n_models == cfg.n_actions
    # adsac: server block e is [C/Cmax, avail/C, models]: the task part comes first
    cfg = EdgeConfig.preset("adsac")
    obs = EdgeAIGCEnv(cfg).reset(seed=0)[0]
    task, servers = cfg.obs_layout.split(torch.from_numpy(obs)[None])
    assert task.shape == (1, 6) and servers.shape == (1, 10, 3) and torch.all(servers[0, :, 2] == 1.0)
    # the ADSAC denoiser reads its tokens through the config's layout
    assert make_agent("adsac", cfg, hidden=32).policy.denoiser.layout == cfg.obs_layout


def test_evaluate_is_deterministic_and_restores_train_mode():
    agent = make_agent("adsac", EdgeConfig.preset("small"), hidden=32, attention_mode="legacy_batch")
    a = evaluate(agent, "small", 0, seeds=(100, 101), seed=3)
    b = evaluate(agent, "small", 0, seeds=(100, 101), seed=3)
    assert np.array_equal(a["return"], b["return"]) and agent.policy.training


def test_agents_reject_wrong_observation_shapes():
    agent = make_agent("adsac", EdgeConfig.preset("small"), hidden=32)
    with pytest.raises(ValueError, match=r"observations must have shape \(batch, 15\), got \(2, 36\)"):
        agent.act(np.zeros((2, 36), np.float32))
    with pytest.raises(ValueError, match=r"make_agent: agent must be one of"):
        make_agent("a2c", EdgeConfig.preset("small"))
    with pytest.raises(ValueError, match=r"episodes: heuristic must be one of"):
        evaluate_heuristic("greedy", "small")

"""Edge AIGC environment (pyalgo.edge): legacy golden parity, seeds, crash / release / utility
math, Gymnasium compliance and registration, the observation layout, vectorisation, batched env and
its checkpoint state, heuristics ordering, malformed input."""
import io
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import pyalgo.edge
from pyalgo.edge import (BatchedEdgeEnv, CrashAvoid, EdgeAIGCEnv, EdgeConfig, Prophet, RandomPolicy,
                         RoundRobin, crash_penalty, quality, released, runtime, utility)

pytestmark = pytest.mark.usefixtures("one_thread")

INFO_KEYS = {"num_steps", "curr_time", "crashed", "crash_penalty", "utility", "server_util", "n_crashes",
             "tasks_finished", "tasks_crashed", "action_mask"}


def play(env, policy, seed=None, options=None):
    """One full episode; returns (return, rewards, last info, steps)."""
    obs, info = env.reset(seed=seed, options=options)
    rewards = []
    while True:
        obs, r, term, trunc, info = env.step(policy.act(obs, info))
        rewards.append(r)
        if term or trunc:
            return float(np.sum(rewards)), rewards, info, len(rewards)


@pytest.fixture(scope="module")
def legacy_env():
    return EdgeAIGCEnv("adsac", world_seed=0, rng="legacy")


# ----------------------------------------------------------------------------- golden parity
def test_legacy_world_golden(legacy_env):
    w = legacy_env.world
    assert w.capacity.tolist() == [1400, 900, 800, 900, 1400, 800, 1100, 1300, 600, 1200]
    np.testing.assert_allclose(w.bonus[0], [[.5, 0, .3, .3], [.2, .4, .7, .6], [.7, .7, .8, .1], [.4, .3, 0, .3]],
                               atol=1e-12)
    coef = np.stack([w.ax[0], w.ay[0], w.bx[0], w.by[0]], axis=1)
    np.testing.assert_allclose(coef, [(70, .45, 180, .75), (80, .4, 160, .8), (50, .45, 230, .95), (50, 0, 170, .65)],
                               atol=1e-12)


def test_legacy_first_obs_and_length(legacy_env):
    obs, info = legacy_env.reset(seed=0)
    assert len(legacy_env.arrivals) == 1506
    assert obs.dtype == np.float32 and obs.shape == (36,)
    np.testing.assert_allclose(obs[:8], [0, 0, 0, 1, 0.83333, 0.81728, 1.0, 1.0], atol=1e-5)
    assert abs(float(obs.astype(np.float64).sum()) - 60.079183) < 1e-4
    assert obs[8] == np.float32(4.0)  # raw model count in legacy mode
    assert obs in legacy_env.observation_space
    assert set(info) >= INFO_KEYS


@pytest.mark.parametrize("name,ret,crashes,crashed,finished", [
    ("roundrobin", 148.211467, 141, 590, 755),
    ("crashavoid", 1113.677686, 9, 37, 1418),
    ("prophet", 1963.214182, 4, 25, 1436),
])
def test_legacy_golden_returns(legacy_env, name, ret, crashes, crashed, finished):
    policy = {"roundrobin": RoundRobin(40), "crashavoid": CrashAvoid(4), "prophet": Prophet(legacy_env)}[name]
    total, rewards, info, steps = play(legacy_env, policy, seed=0)
    assert steps == 1505
    assert abs(total - ret) < 1e-4
    assert info["n_crashes"] == crashes
    assert info["tasks_crashed"] == crashed and info["tasks_finished"] == finished
    if name == "prophet":
        np.testing.assert_allclose(rewards[:5], [1.6143, 1.55, 1.55, 1.6, 1.4143], atol=1e-4)


def test_legacy_reset_stream_protocol():
    env = EdgeAIGCEnv("adsac", rng="legacy", legacy_reseed=True)
    env.reset()
    a = env.arrivals
    env.reset()
    assert np.array_equal(a, env.arrivals)  # original if_test protocol: RandomState(0) every reset
    env = EdgeAIGCEnv("adsac", rng="legacy")
    env.reset()
    assert np.array_equal(a, env.arrivals)  # the first stream is RandomState(0)
    env.reset()
    assert not np.array_equal(a, env.arrivals)  # then it continues


# ----------------------------------------------------------------------------- seeds
def _trajectory(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, r, term, trunc, info = env.step(int(a))
        out += [obs, np.float64(r), np.bool_(term)]
        if term:
            break
    return out


@pytest.mark.parametrize("rng", ["numpy", "legacy"])
def test_determinism_and_two_seeds(rng):
    before = np.random.get_state()
    env = EdgeAIGCEnv("adsac", world_seed=3, rng=rng)
    world = (env.world.capacity.copy(), env.world.util_table.copy())
    actions = np.random.default_rng(0).integers(40, size=300)
    t1 = _trajectory(env, 5, actions)
    arr5 = env.arrivals
    t2 = _trajectory(env, 5, actions)
    assert all(np.array_equal(x, y) for x, y in zip(t1, t2)) and len(t1) == len(t2)
    env.reset(seed=6)
    assert not np.array_equal(arr5, env.arrivals)  # different stream ...
    assert np.array_equal(world[0], env.world.capacity) and np.array_equal(world[1], env.world.util_table)
    other = EdgeAIGCEnv("adsac", world_seed=3, rng=rng)
    assert np.array_equal(other.world.util_table, world[1])  # ... same world for the same world_seed
    assert not np.array_equal(EdgeAIGCEnv("adsac", world_seed=4, rng=rng).world.util_table, world[1])
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]


# ----------------------------------------------------------------------------- crash / release / utility
CRASH_CFG = EdgeConfig(n_servers=2, n_models=2, n_types=1, capacity_values=(600,))
DEM = list(CRASH_CFG.demand_values)  # 100, 110, ..., 240


def _episode(demands, arrivals):
    return (np.asarray(arrivals, np.int64), np.zeros(len(arrivals), np.int64),
            np.asarray([DEM.index(t) for t in demands], np.int64))


@pytest.mark.parametrize("incoming,crash", [(110, True), (100, False)])
def test_crash_rule_boundary(incoming, crash):
    env = EdgeAIGCEnv(CRASH_CFG, world_seed=0)
    # 200 + 200 + 100 = 500 running on server 0; one task of 100 on server 1; then the probe
    demands = [200, 200, 100, 100, incoming, 100]
    arrivals = [0, 10, 20, 25, 30, 40]
    obs, info = env.reset(options={"episode": _episode(demands, arrivals)})
    for a in (0, 1, 0, 2):
        obs, r, term, trunc, info = env.step(a)
        assert not info["crashed"] and r >= 0
    assert info["server_free"].tolist() == [100, 500]
    assert info["action_mask"].tolist() == [not crash, not crash, True, True]  # room for the probe?
    obs, r, term, trunc, info = env.step(1)  # server 0, model 1
    if crash:
        tau = runtime(np.array([200, 200, 100]), CRASH_CFG.runtime_coefs)
        expected = 2.0 + sum(2.0 * (1 - (30 - a) / t) for a, t in zip([0, 10, 20], tau))
        assert info["crashed"] and info["n_crashes"] == 1 and info["tasks_crashed"] == 3
        assert r == pytest.approx(-expected, abs=1e-12) and info["crash_penalty"] == pytest.approx(expected)
        assert info["server_free"].tolist() == [600, 500]  # emptied; other server unchanged; probe dropped
        assert info["utility"] == 0.0
        assert env.server_crashes.tolist() == [1, 0]
    else:
        assert not info["crashed"] and info["n_crashes"] == 0 and info["tasks_crashed"] == 0
        assert info["server_free"].tolist() == [0, 500]  # fits exactly
        assert r == pytest.approx(env.world.util_table[0, 1, 0, DEM.index(100)])
        assert info["action_mask"].tolist() == [False, False, True, True]


def test_crash_penalty_formula():
    arr = np.array([0, 10, 5, 0])
    tau = np.array([100.0, 50.0, 10.0, 1.0])
    active = np.array([True, True, False, False])
    # κ(1 + (1 − 20/100) + (1 − 10/50)) = 2 · 2.6
    assert crash_penalty(arr, tau, active, 20, 2.0) == pytest.approx(5.2, abs=1e-12)
    assert crash_penalty(arr, tau, np.zeros(4, bool), 20, 3.0) == 3.0
    batch = crash_penalty(np.stack([arr, arr]), np.stack([tau, tau]), np.stack([active, ~active]), np.array([20, 6]), 2.0)
    assert batch == pytest.approx([5.2, 2 + 2 * (1 - 1 / 10) + 2 * (1 - 6)])


def test_release_exactly_at_finish_time():
    tau = float(runtime(100, CRASH_CFG.runtime_coefs))
    assert tau == 14760.0
    assert released(np.array([tau, np.inf]), tau).tolist() == [True, False]
    assert released(np.array([tau]), tau - 1).tolist() == [False]
    env = EdgeAIGCEnv(CRASH_CFG)
    env.reset(options={"episode": _episode([100, 100, 100, 100], [0, 14759, 14760, 14761])})
    _, _, _, _, info = env.step(0)
    assert info["server_free"][0] == 500 and info["tasks_finished"] == 0  # now = arr + τ − 1
    _, _, _, _, info = env.step(3)
    assert info["server_free"][0] == 600 and info["tasks_finished"] == 1  # now = arr + τ: released
    assert info["server_free"][1] == 500


def test_utility_bounds_and_quality_curve():
    for rng in ("numpy", "legacy"):
        tab = EdgeAIGCEnv("adsac", world_seed=1, rng=rng).world.util_table
        assert tab.min() >= 0 and tab.max() <= 1.0 * 0.9 + 0.95 + 1e-12
    g = np.random.default_rng(0)
    t = np.arange(0, 300)
    for _ in range(20):
        ax, bx = g.choice(np.arange(0, 100, 10)), g.choice(np.arange(150, 250, 10))
        ay, by = g.choice(np.arange(0, 0.5, 0.05)), g.choice(np.arange(0.5, 1, 0.05))
        q = quality(t, ax, ay, bx, by)
        assert quality(ax, ax, ay, bx, by) == 0.0
        assert quality(bx, ax, ay, bx, by) == pytest.approx(by - ay, abs=1e-12)
        assert np.all(np.diff(q) >= -1e-12) and q.min() == 0.0 and q.max() == pytest.approx(by - ay)
        mid = (ax + bx) / 2
        assert quality(mid, ax, ay, bx, by) == pytest.approx((by - ay) / 2)  # linear in between
        assert np.all(q[t < ax] == 0) and np.allclose(q[t > bx], by - ay)
        assert utility(0.3, ax, ay, bx, by, bx, 2.0) == pytest.approx(0.6 + by - ay)


# ----------------------------------------------------------------------------- gymnasium compliance
@pytest.mark.parametrize("rng", ["numpy", "legacy"])
@pytest.mark.parametrize("preset", ["adsac", "d2sac"])
def test_check_env(rng, preset):
    from gymnasium.utils.env_checker import check_env
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(EdgeAIGCEnv(preset, rng=rng), skip_render_check=True)


@pytest.mark.parametrize("rng", ["numpy", "legacy"])
def test_episode_flags_info_and_bounds(rng):
    env = EdgeAIGCEnv("adsac", world_seed=2, rng=rng)
    obs, info = env.reset(seed=11)
    n_steps = len(env.arrivals) - 1
    pol = RandomPolicy(40, seed=0)
    E = env.config.n_servers
    for i in range(n_steps):
        obs, r, term, trunc, info = env.step(pol.act(obs, info))
        assert obs in env.observation_space and obs.dtype == np.float32
        assert set(info) >= INFO_KEYS
        assert term == (i == n_steps - 1) and trunc is False
        assert info["num_steps"] == i + 1
        avail = obs[6 + 1::3]
        assert np.all((avail >= 0) & (avail <= 1))
        assert info["server_util"].shape == (E,) and np.all((info["server_util"] >= 0) & (info["server_util"] <= 1))
        mask = info["action_mask"]
        assert mask.dtype == bool and mask.shape == (40,)
        assert np.array_equal(mask, np.repeat(info["server_free"] >= info["task_demand"], 4))
        if info["crashed"]:
            assert r == -info["crash_penalty"] and r <= -2.0
        else:
            assert r == info["utility"] and 0 <= r <= 1.85
    with pytest.raises(RuntimeError, match="EdgeAIGCEnv"):
        env.step(0)
    env = EdgeAIGCEnv("small", rng=rng, end_as_truncation=True)
    env.reset(seed=0)
    while True:
        _, _, term, trunc, _ = env.step(0)
        assert term is False
        if trunc:
            break


def test_sync_vector_env_next_step_autoreset():
    from gymnasium.vector import AutoresetMode, SyncVectorEnv
    venv = SyncVectorEnv([lambda: EdgeAIGCEnv("small", world_seed=0) for _ in range(2)])
    assert venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP) == AutoresetMode.NEXT_STEP
    ref = EdgeAIGCEnv("small", world_seed=0)
    obs, _ = venv.reset(seed=[7, 8])
    ref_obs, _ = ref.reset(seed=7)
    assert np.array_equal(obs[0], ref_obs)
    rng = np.random.default_rng(1)
    seen_done = False
    for _ in range(400):
        a = rng.integers(6, size=2)
        obs, r, term, trunc, info = venv.step(a)
        if seen_done:  # next-step autoreset: this step only reset env 0
            assert r[0] == 0.0 and not term[0]
            ref_obs, _ = ref.reset()
            assert np.array_equal(obs[0], ref_obs)
            seen_done = False
            continue
        ref_obs, ref_r, ref_term, _, _ = ref.step(int(a[0]))
        assert np.array_equal(obs[0], ref_obs) and r[0] == ref_r and term[0] == ref_term
        seen_done = bool(term[0])
    venv.close()


def test_registration_and_presets():
    pyalgo.edge.register_envs()                 # also done on import of pyalgo.edge.env (above: EdgeAIGCEnv)
    assert set(pyalgo.edge.ENV_IDS) == {"AIGCEdge-v0", "AIGCEdge-D2SAC-v0"}
    assert set(pyalgo.edge.ENV_IDS) <= set(gym.registry)
    env = gym.make("AIGCEdge-v0")
    assert env.observation_space.shape == (36,) and env.action_space == gym.spaces.Discrete(40)
    env.reset(seed=0)
    env = gym.make("AIGCEdge-D2SAC-v0")
    assert env.observation_space.shape == (42,) and env.action_space == gym.spaces.Discrete(20)
    legacy = gym.make("AIGCEdge-v0", rng="legacy")
    assert legacy.observation_space.high.max() == 4.0
    assert EdgeAIGCEnv("adsac").observation_space.high.max() == 1.0


def test_gym_make_with_the_module_prefix_in_a_fresh_interpreter():
    """gymnasium imports pyalgo.edge.env (which registers the ids) before it looks the id up; importing
    pyalgo.edge alone loads no gymnasium."""
    code = ("import gymnasium as gym\n"
            "env = gym.make('pyalgo.edge.env:AIGCEdge-D2SAC-v0')\n"
            "print(env.observation_space.shape, env.action_space.n)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(42,)", "20"]
    code = "import sys, pyalgo.edge as e\ne.BatchedEdgeEnv('small', 2).reset(seed=0)\nprint('gymnasium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.split() == ["False"], out.stderr


# ----------------------------------------------------------------------------- observation layout
@pytest.mark.parametrize("preset", ["adsac", "d2sac", "small"])
@pytest.mark.parametrize("rng", ["numpy", "legacy"])
def test_obs_layout_describes_the_observations(preset, rng):
    """EdgeConfig.obs_layout is the one source: the env's observations and bounds split into the task
    features and per-server blocks it names."""
    cfg = EdgeConfig.preset(preset)
    L = cfg.obs_layout
    env = EdgeAIGCEnv(cfg, world_seed=0, rng=rng)
    assert L.state_dim == cfg.obs_dim == env.observation_space.shape[0] and L.n_servers * L.n_models == cfg.n_actions
    obs, info = env.reset(seed=0)
    task, servers = L.split(obs[None])
    k, t, d, _ = env.current_task
    assert servers.shape == (1, cfg.n_servers, L.server_dim)
    assert servers[0, :, 0].tolist() == pytest.approx((env.world.capacity / cfg.capacity_values[-1]).tolist())
    assert servers[0, :, 1].tolist() == pytest.approx((info["server_free"] / env.world.capacity).tolist())
    assert task[0, -2] == pytest.approx(t / cfg.demand_values[-1])
    if cfg.layout == "adsac":
        assert task.shape == (1, cfg.n_types + 2) and task[0, :cfg.n_types].argmax() == k
        assert np.all(servers[0, :, 2] == (cfg.n_models if rng == "legacy" else 1.0))
    else:
        assert task.shape == (1, 2) and L.servers_first
    lo, hi = (x[None] for x in (env.observation_space.low, env.observation_space.high))
    np.testing.assert_array_equal(L.join(*L.split(obs[None])), obs[None])
    np.testing.assert_array_equal(L.join(*L.split(hi)), hi)
    assert np.all(L.split(lo)[1] == 0.0)
    # torch tensors split the same way (the attention denoiser)
    task_t, servers_t = L.split(torch.from_numpy(obs)[None])
    assert torch.equal(servers_t, torch.from_numpy(servers)) and torch.equal(task_t, torch.from_numpy(task))


def test_obs_layout_join_checks_shapes():
    L = EdgeConfig.preset("small").obs_layout
    with pytest.raises(ValueError, match=r"ObsLayout.join: expected task \(2, 6\)"):
        L.join(np.zeros((2, 5)), np.zeros((2, 3, 3)))


@pytest.mark.parametrize("rng", ["numpy", "legacy"])
def test_d2sac_preset(rng):
    env = EdgeAIGCEnv("d2sac", world_seed=0, rng=rng)
    assert env.observation_space.shape == (42,) and env.action_space.n == 20
    assert np.all(env.world.bonus == 0)
    total, rewards, info, steps = play(env, CrashAvoid(1), seed=0)
    assert 800 < steps < 1200 and info["n_crashes"] == 0
    assert max(rewards) <= 0.95 + 1e-12  # reward = Q only
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space and info["task_type"] == 0
    assert obs[:40:2].tolist() == pytest.approx((env.world.capacity / 900).tolist())  # servers first
    if rng == "legacy":
        # [AGOD] first episode after RandomState(0): zero crashes for CrashAvoid / Prophet (spec §3)
        total_p, _, info_p, _ = play(env, Prophet(env), seed=0)
        assert info_p["n_crashes"] == 0 and total_p > total


# ----------------------------------------------------------------------------- batched env
@pytest.mark.parametrize("preset,rng,steps", [("small", "numpy", 450), ("adsac", "numpy", 300),
                                              ("small", "legacy", 250), ("d2sac", "numpy", 200)])
def test_batched_equals_single(preset, rng, steps):
    N = 3
    seeds = [20 + i for i in range(N)]
    benv = BatchedEdgeEnv(preset, num_envs=N, world_seed=1, rng=rng)
    singles = [EdgeAIGCEnv(preset, world_seed=1, rng=rng) for _ in range(N)]
    bobs, binfo = benv.reset(seed=seeds)
    sobs = []
    sinfo = []
    for env, s in zip(singles, seeds):
        o, i = env.reset(seed=s)
        sobs.append(o)
        sinfo.append(i)
    assert np.array_equal(bobs, np.stack(sobs))
    A = benv.single_action_space.n
    g = np.random.default_rng(3)
    ca = CrashAvoid(benv.config.n_models)
    pr = Prophet(benv)
    n_done = 0
    for t in range(steps):
        if t % 3 == 0:
            acts = g.integers(A, size=N)
        elif t % 3 == 1:
            acts = ca.act_batch(bobs, binfo)
            assert acts.tolist() == [ca.act(o, i) for o, i in zip(sobs, sinfo)]
        else:
            acts = pr.act_batch(bobs, binfo)
            assert acts.tolist() == [pr.act(o, i) for o, i in zip(sobs, sinfo)]
        bobs, br, bterm, btrunc, binfo = benv.step(acts)
        for i, env in enumerate(singles):
            o, r, term, trunc, info = env.step(int(acts[i]))
            assert r == br[i] and term == bterm[i] and trunc == btrunc[i]
            episode_end = binfo["final_info"] if term else binfo
            assert info["n_crashes"] == episode_end["n_crashes"][i]
            assert info["tasks_finished"] == episode_end["tasks_finished"][i]
            if term:
                assert np.array_equal(o, binfo["final_obs"][i])
                o, info = env.reset()
                n_done += 1
            assert np.array_equal(o, bobs[i])
            assert np.array_equal(info["action_mask"], binfo["action_mask"][i])
            sobs[i], sinfo[i] = o, info
    if preset == "small":
        assert n_done >= N  # crossed episode boundaries (auto-reset continues each env's stream)


def test_batched_heuristic_ordering_and_errors():
    benv = BatchedEdgeEnv("adsac", num_envs=4, world_seed=1)  # ΣC = 10 200 ≈ E[ΣC]
    res = {}
    for name, pol in [("random", RandomPolicy(40, seed=0)), ("roundrobin", RoundRobin(40)),
                      ("crashavoid", CrashAvoid(4)), ("prophet", Prophet(benv))]:
        obs, info = benv.reset(seed=1)
        total = np.zeros(4)
        done = np.zeros(4, bool)
        crashes = np.zeros(4)
        while not done.all():
            obs, r, term, trunc, info = benv.step(pol.act_batch(obs, info))
            total += np.where(done, 0, r)
            fin = info.get("final_info")
            if fin is not None:
                crashes[term & ~done] = fin["n_crashes"][term & ~done]
            done |= term
        res[name] = (total, crashes)
    (rnd, rnd_c), (rr, _), (ca, ca_c), (pr, pr_c) = (res[k] for k in ("random", "roundrobin", "crashavoid", "prophet"))
    assert np.all(pr > ca) and np.all(ca > rr + 500) and np.all(ca > rnd + 500)
    assert np.all(ca_c * 5 < rnd_c) and np.all(pr_c < rnd_c / 5)
    with pytest.raises(ValueError, match=r"BatchedEdgeEnv\[env 2\].*40"):
        benv.step(np.array([0, 1, 40, 3]))
    with pytest.raises(TypeError, match="BatchedEdgeEnv"):
        benv.step(np.array([0.5, 1, 2, 3]))
    with pytest.raises(ValueError, match="shape"):
        benv.step(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"BatchedEdgeEnv: seeds must be integers >= 0"):
        benv.reset(seed=[0, 1, -1, 3])


@pytest.mark.parametrize("rng", ["numpy", "legacy"])
def test_batched_state_dict_resumes_exactly(rng):
    """The running envs as tensors and plain data (loaded with weights_only=True) continue bit for bit,
    across auto-resets (the episode generators are part of the state)."""
    def play_steps(env, steps, seed):
        g = np.random.default_rng(seed)
        return [env.step(g.integers(6, size=3))[:3] for _ in range(steps)]

    a = BatchedEdgeEnv("small", num_envs=3, world_seed=1, rng=rng)
    a.reset(seed=[5, 6, None])
    play_steps(a, 150, 0)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = BatchedEdgeEnv("small", num_envs=3, world_seed=1, rng=rng)
    b.load_state_dict(torch.load(buf, weights_only=True))
    ends = 0
    for (oa, ra, ta), (ob, rb, tb) in zip(play_steps(a, 300, 1), play_steps(b, 300, 1)):
        assert np.array_equal(oa, ob) and np.array_equal(ra, rb) and np.array_equal(ta, tb)
        ends += int(ta.sum())
    assert ends >= 3
    with pytest.raises(ValueError, match=r"BatchedEdgeEnv.load_state_dict: saved \(num_envs, world_seed, rng\)"):
        BatchedEdgeEnv("small", num_envs=3, world_seed=2, rng=rng).load_state_dict(a.state_dict())


# ----------------------------------------------------------------------------- ordering (single env)
@pytest.mark.parametrize("seed", [1, 2])
def test_single_env_ordering(seed):
    env = EdgeAIGCEnv("adsac", world_seed=1)
    out = {}
    for name, pol in [("random", RandomPolicy(40, seed=seed)), ("roundrobin", RoundRobin(40)),
                      ("crashavoid", CrashAvoid(4)), ("prophet", Prophet(env))]:
        total, _, info, steps = play(env, pol, seed=seed)
        out[name] = (total, info["n_crashes"], steps)
    assert out["prophet"][0] > out["crashavoid"][0] > out["roundrobin"][0] + 500
    assert out["crashavoid"][0] > out["random"][0] + 500
    assert out["crashavoid"][1] * 5 < out["random"][1]
    assert 0.05 < out["random"][1] / out["random"][2] < 0.15  # Random crashes on ~9.5 % of steps


# ----------------------------------------------------------------------------- malformed input
@pytest.mark.parametrize("action,exc", [(40, ValueError), (-1, ValueError), (3.5, TypeError), (2.0, TypeError),
                                        ("1", TypeError), (True, TypeError), (np.array([1, 2]), ValueError),
                                        (None, TypeError)])
def test_invalid_actions(action, exc):
    env = EdgeAIGCEnv("adsac")
    env.reset(seed=0)
    with pytest.raises(exc, match=r"EdgeAIGCEnv: invalid action"):
        env.step(action)
    obs, r, term, trunc, info = env.step(np.array([39]))  # a size-1 integer array is fine
    assert info["num_steps"] == 1


def test_step_before_reset():
    with pytest.raises(RuntimeError, match="EdgeAIGCEnv.*reset"):
        EdgeAIGCEnv("small").step(0)


@pytest.mark.parametrize("kwargs,field", [
    (dict(capacity_values=(600, 0)), "capacity_values"),
    (dict(capacity_values=(-100,)), "capacity_values"),
    (dict(capacity_values=()), "capacity_values"),
    (dict(n_servers=0), "n_servers"),
    (dict(n_models=0), "n_models"),
    (dict(n_types=0), "n_types"),
    (dict(arrival_rate=-0.001), "arrival_rate"),
    (dict(arrival_rate=0.0), "arrival_rate"),
    (dict(demand_values=(0, 100)), "demand_values"),
    (dict(layout="other"), "layout"),
    (dict(runtime_coefs=(0.0, 0.0, -1.0, 1.0)), "runtime_coefs"),
])
def test_bad_configs(kwargs, field):
    with pytest.raises(ValueError, match=f"EdgeConfig.{field}"):
        EdgeConfig(**kwargs)


def test_bad_env_arguments():
    with pytest.raises(ValueError, match="unknown EdgeConfig preset"):
        EdgeAIGCEnv("nope")
    with pytest.raises(ValueError, match="rng"):
        EdgeAIGCEnv("adsac", rng="torch")
    with pytest.raises(ValueError, match="EdgeConfig.n_servers"):
        EdgeAIGCEnv({"n_servers": 0})
    env = EdgeAIGCEnv(CRASH_CFG)
    with pytest.raises(ValueError, match="episode"):
        env.reset(options={"episode": (np.array([0, 5]), np.array([0, 0]), np.array([0, 99]))})


@pytest.mark.parametrize("value", ["abc", None, [[1, 2], [3]], (1, "x")])
def test_config_sequences_must_hold_numbers(value):
    from pyalgo.edge.config import EdgeConfig

    with pytest.raises(ValueError, match=r"EdgeConfig\.capacity_values must be a sequence of numbers"):
        EdgeConfig(capacity_values=value)

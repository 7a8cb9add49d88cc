"""Property-based fuzzing of the edge family (issue 14): the envs under random configs, seeds and
actions against their invariants (Gymnasium's env-checker properties: observations inside the
observation space, float32, determinism under a seed, flags and info consistent) and against a
reference (the batched env against N single envs, the replay buffer's n-step returns against a
brute-force sum, a checkpointed env against an uninterrupted one), the heuristics, the agents and the
lab's TrainConfig validation. Example counts come from the hypothesis profile (tests/conftest.py)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from pyalgo.edge import BatchedEdgeEnv, CrashAvoid, EdgeConfig, Prophet, RandomPolicy, RoundRobin
from pyalgo.edge.agents import ReplayBuffer, make_agent
from pyalgo.edge.core import obs_bounds, quality, utility

pytestmark = pytest.mark.fuzz


@st.composite
def configs(draw):
    """Small but varied EdgeConfigs (both layouts, odd grids, short episodes)."""
    layout = draw(st.sampled_from(["adsac", "d2sac"]))
    E = draw(st.integers(1, 5))
    M = draw(st.integers(1, 3))
    K = draw(st.integers(1, 4))
    cap = tuple(sorted(set(draw(st.lists(st.integers(1, 2000), min_size=1, max_size=4)))))
    dem = tuple(sorted(set(draw(st.lists(st.integers(1, 300), min_size=1, max_size=4)))))
    assume(max(cap) // min(dem) <= 4096)
    horizon = draw(st.integers(2_000, 60_000))
    rate = draw(st.floats(1e-4, 3e-3))
    ax = tuple(sorted(set(draw(st.lists(st.integers(0, 50), min_size=1, max_size=3)))))
    bx = tuple(sorted(set(draw(st.lists(st.integers(60, 400), min_size=1, max_size=3)))))
    kw = dict(n_servers=E, n_models=M, n_types=K, capacity_values=cap, demand_values=dem, horizon=horizon,
              arrival_rate=rate, ax_values=ax, bx_values=bx, layout=layout,
              crash_coef=draw(st.floats(0, 10)), runtime_coefs=(0.0, draw(st.floats(0.1, 5)), 1.0, 10.0))
    if layout == "d2sac":
        kw.update(bonus_weight=0.0, bonus_values=(0.0,))
    else:
        kw.update(bonus_weight=draw(st.floats(0, 3)))
    return EdgeConfig(**kw)


rngs = st.sampled_from(["numpy", "legacy"])
seeds = st.integers(0, 2 ** 32 - 1)


def _check_step(env, cfg, obs, reward, term, trunc, info, lo, hi):
    assert obs.dtype == np.float32 and obs.shape == (cfg.obs_dim,)
    assert np.all(np.isfinite(obs)) and np.all(obs >= lo) and np.all(obs <= hi)
    assert math.isfinite(reward)
    assert isinstance(term, bool) and isinstance(trunc, bool) and not (term and trunc)
    mask = info["action_mask"]
    assert mask.shape == (cfg.n_actions,) and np.array_equal(
        mask, np.repeat(info["server_free"] >= info["task_demand"], cfg.n_models))
    assert np.all(info["server_free"] >= 0)


@given(cfg=configs(), rng=rngs, world_seed=seeds, seed=seeds, actions=st.lists(st.integers(0, 10 ** 6), max_size=60))
def test_single_env_invariants(cfg, rng, world_seed, seed, actions):
    """Observations in the space, finite rewards, masks consistent, the episode ends after its tasks,
    and the same seed replays the same episode (determinism)."""
    from pyalgo.edge import EdgeAIGCEnv

    env = EdgeAIGCEnv(cfg, world_seed=world_seed, rng=rng)
    lo, hi = obs_bounds(cfg, rng == "legacy")
    obs, info = env.reset(seed=seed)
    first = obs.copy()
    assert obs in env.observation_space
    n_tasks = len(env.arrivals) - 1
    trace = []
    for i, a in enumerate(actions):
        a %= cfg.n_actions
        assert env.action_space.contains(a)
        obs, r, term, trunc, info = env.step(a)
        _check_step(env, cfg, obs, r, term, trunc, info, lo, hi)
        assert info["num_steps"] == i + 1
        trace.append((r, term))
        if term:
            assert i + 1 == n_tasks
            break
    obs2, _ = env.reset(seed=seed)
    assert np.array_equal(first, obs2)
    for (r, term), a in zip(trace, actions):
        r2 = env.step(a % cfg.n_actions)[1]
        assert r2 == r


@given(cfg=configs(), rng=rngs, world_seed=seeds, n=st.integers(1, 4), seed=st.integers(0, 10 ** 6),
       steps=st.integers(1, 80), action_seed=seeds)
def test_batched_env_equals_single_envs(cfg, rng, world_seed, n, seed, steps, action_seed):
    """Reference: BatchedEdgeEnv(N) steps exactly as N EdgeAIGCEnv (auto-reset across episode ends)."""
    from pyalgo.edge import EdgeAIGCEnv

    benv = BatchedEdgeEnv(cfg, num_envs=n, world_seed=world_seed, rng=rng)
    singles = [EdgeAIGCEnv(cfg, world_seed=world_seed, rng=rng) for _ in range(n)]
    bobs, _ = benv.reset(seed=seed)
    for i, env in enumerate(singles):
        assert np.array_equal(env.reset(seed=seed + i)[0], bobs[i])
    g = np.random.default_rng(action_seed)
    for _ in range(steps):
        acts = g.integers(cfg.n_actions, size=n)
        bobs, br, bterm, btrunc, binfo = benv.step(acts)
        assert np.all(np.isfinite(br)) and bobs.dtype == np.float32
        for i, env in enumerate(singles):
            o, r, term, trunc, _ = env.step(int(acts[i]))
            assert r == br[i] and term == bterm[i] and trunc == btrunc[i]
            if term:
                assert np.array_equal(o, binfo["final_obs"][i])
                o, _ = env.reset()
            assert np.array_equal(o, bobs[i])


@given(cfg=configs(), rng=rngs, n=st.integers(1, 3), cut=st.integers(0, 40), more=st.integers(1, 40),
       action_seed=seeds)
def test_batched_state_dict_round_trip(cfg, rng, n, cut, more, action_seed):
    """Reference: an env restored from state_dict() at step `cut` continues exactly as the original."""
    a = BatchedEdgeEnv(cfg, num_envs=n, world_seed=1, rng=rng)
    a.reset(seed=5)
    g = np.random.default_rng(action_seed)
    for _ in range(cut):
        a.step(g.integers(cfg.n_actions, size=n))
    b = BatchedEdgeEnv(cfg, num_envs=n, world_seed=1, rng=rng)
    b.load_state_dict(a.state_dict())
    for _ in range(more):
        acts = g.integers(cfg.n_actions, size=n)
        oa, ra, ta, _, _ = a.step(acts)
        ob, rb, tb, _, _ = b.step(acts)
        assert np.array_equal(oa, ob) and np.array_equal(ra, rb) and np.array_equal(ta, tb)


@given(cfg=configs(), n=st.integers(1, 3), steps=st.integers(1, 60), seed=seeds)
def test_heuristics_pick_valid_actions(cfg, n, steps, seed):
    """Every heuristic's action is in range; CrashAvoid picks a server with room whenever one exists
    (the Prophet may not: it falls back to action 0 when no choice has a positive utility)."""
    env = BatchedEdgeEnv(cfg, num_envs=n, world_seed=seed % 1000)
    obs, info = env.reset(seed=seed % 10 ** 6)
    pols = [RandomPolicy(cfg.n_actions, seed=0), RoundRobin(cfg.n_actions), CrashAvoid(cfg.n_models), Prophet(env)]
    for t in range(steps):
        acts = [np.asarray(p.act_batch(obs, info)) for p in pols]
        for a in acts:
            assert a.shape == (n,) and np.all((a >= 0) & (a < cfg.n_actions))
        room = info["server_free"] >= info["task_demand"][:, None]
        picked = room[np.arange(n), acts[2] // cfg.n_models]           # CrashAvoid: the freest server
        assert np.all(picked | ~room.any(1))
        obs, _, _, _, info = env.step(acts[t % len(acts)])


@given(t=st.floats(-1e6, 1e6), ax=st.integers(0, 99), dx=st.integers(1, 500), ay=st.floats(0, 0.5),
       dy=st.floats(0, 0.5), bonus=st.floats(0, 1), beta=st.floats(0, 10))
def test_quality_and_utility_bounds(t, ax, dx, ay, dy, bonus, beta):
    """Q(t) in [0, b_y − a_y], monotone in t; utility = β·bonus + Q, finite for any demand."""
    bx, by = ax + dx, ay + dy
    q = quality(np.float64(t), ax, ay, bx, by)
    assert -1e-12 <= q <= by - ay + 1e-12
    assert quality(np.float64(t) + 1.0, ax, ay, bx, by) >= q - 1e-12
    u = utility(bonus, ax, ay, bx, by, np.float64(t), beta)
    assert math.isfinite(u) and abs(u - (beta * bonus + q)) <= 1e-9 * max(1.0, abs(u))


@given(n_envs=st.integers(1, 3), size=st.integers(1, 8), n_step=st.integers(1, 4), gamma=st.floats(0, 1),
       steps=st.integers(1, 30), data_seed=seeds, batch=st.integers(1, 16))
def test_replay_buffer_n_step_returns_match_brute_force(n_envs, size, n_step, gamma, steps, data_seed, batch):
    """Reference: each sampled transition's n-step return and discount against a direct sum over the
    stored steps (cut at an episode end or at the newest stored step)."""
    capacity = size * n_envs
    buf = ReplayBuffer(capacity, 2, n_envs, n_step, gamma)
    g = np.random.default_rng(data_seed)
    for _ in range(steps):
        obs = g.normal(size=(n_envs, 2)).astype(np.float32)
        term = g.random(n_envs) < 0.2
        trunc = ~term & (g.random(n_envs) < 0.1)
        buf.add(obs, g.integers(4, size=n_envs), g.normal(size=n_envs).astype(np.float32), obs + 1, term, trunc)
    gen = torch.Generator().manual_seed(data_seed % 2 ** 63)
    b = buf.sample(batch, gen)
    gen = torch.Generator().manual_seed(data_seed % 2 ** 63)
    filled = buf.size_per_env if buf.full else buf.pos
    t = torch.randint(filled, (batch,), generator=gen).numpy()
    e = torch.randint(n_envs, (batch,), generator=gen).numpy()
    newest = (buf.pos - 1) % buf.size_per_env
    for j in range(batch):
        ret, disc, idx = 0.0, 1.0, t[j]
        for k in range(n_step):
            idx = (t[j] + k) % buf.size_per_env
            ret += disc * float(buf.reward[idx, e[j]])
            disc *= gamma
            if buf.end[idx, e[j]] or idx == newest:
                break
        if buf.terminated[idx, e[j]]:
            disc = 0.0
        assert math.isclose(float(b.ret[j]), ret, rel_tol=1e-5, abs_tol=1e-5)
        assert math.isclose(float(b.discount[j]), disc, rel_tol=1e-5, abs_tol=1e-6)
        assert np.array_equal(b.next_obs[j].numpy(), buf.next_obs[idx, e[j]])


@given(agent=st.sampled_from(["adsac", "d2sac", "sac", "dqn"]), B=st.integers(0, 5),
       scale=st.sampled_from([0.0, 1.0, 1e-30, 1e6, 1e30]), seed=seeds, deterministic=st.booleans())
def test_agents_act_in_range_on_extreme_observations(agent, B, scale, seed, deterministic):
    """Observations in the env's range (|x| <= 1 here) give B actions in range, deterministically under
    a seeded generator; far larger finite ones (up to 1e30) give the same or a clear ValueError, never
    a NaN policy or a raw torch error."""
    cfg = EdgeConfig.preset("small")
    torch.manual_seed(0)
    ag = make_agent(agent, cfg, 16, 2)
    obs = np.random.default_rng(seed).normal(size=(B, cfg.obs_dim)).astype(np.float32) * np.float32(scale)
    try:
        a1 = ag.act(obs, deterministic, torch.Generator().manual_seed(seed % 2 ** 63))
    except ValueError as exc:         # far outside the env's range, the policy may overflow: a clear error
        assert scale > 1 and "pyalgo.edge.SACAgent.act" in str(exc) and "obs" in str(exc), exc
        return
    a2 = ag.act(obs, deterministic, torch.Generator().manual_seed(seed % 2 ** 63))
    assert a1.shape == (B,) and np.array_equal(a1, a2) and np.all((a1 >= 0) & (a1 < cfg.n_actions))


@given(field=st.sampled_from(["num_envs", "epochs", "steps_per_epoch", "batch_size", "buffer_size", "n_step",
                              "eval_every", "checkpoint_every", "hidden", "T", "updates_per_epoch", "warmup_steps",
                              "seed", "world_seed", "gamma"]),
       value=st.one_of(st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                       st.text(max_size=3), st.none()))
def test_train_config_accepts_exactly_the_valid_values(field, value):
    """TrainConfig either accepts a value that is valid for the field or raises a ValueError naming
    TrainConfig and the field: never another exception, never an invalid value accepted."""
    from pyalgo.lab.edge.train import MAX_COUNT, TrainConfig

    is_int = isinstance(value, int) and not isinstance(value, bool)
    valid = {"updates_per_epoch": is_int and 0 <= value <= MAX_COUNT,
             "warmup_steps": is_int and 0 <= value <= MAX_COUNT,
             "seed": is_int and 0 <= value < 2 ** 32, "world_seed": is_int and 0 <= value < 2 ** 32,
             "T": is_int and 1 <= value <= 1000, "hidden": is_int and 8 <= value <= 2 ** 16 and (value // 2) % 4 == 0,
             "gamma": isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1,
             "buffer_size": is_int and 8 <= value <= MAX_COUNT,
             "num_envs": is_int and 1 <= value <= 200_000}.get(field, is_int and 1 <= value <= MAX_COUNT)
    try:
        TrainConfig(**{field: value})
    except ValueError as exc:
        assert not valid, f"{field}={value!r} refused: {exc}"
        assert "pyalgo.lab.edge.train.TrainConfig" in str(exc) and field in str(exc)
    else:
        assert valid, f"{field}={value!r} accepted"

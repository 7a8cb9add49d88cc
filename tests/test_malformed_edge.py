"""Malformed-input table of the edge family: pyalgo.edge (EdgeConfig, the envs, agents, heuristics,
episodes) and the lab's edge configs and trainer (pyalgo.lab.edge). See tests/malformed.py."""
import math
import warnings

import numpy as np
import torch

from malformed import Case, run_table
from pyalgo.edge import BatchedEdgeEnv, CrashAvoid, EdgeConfig, Prophet, RandomPolicy, RoundRobin
from pyalgo.edge.agents import DQNAgent, QNetwork, ReplayBuffer, SACAgent, beta_schedule, make_agent
from pyalgo.edge.episodes import evaluate, evaluate_heuristic, run_episodes
from pyalgo.lab.edge.reproduce import Config, Schedule
from pyalgo.lab.edge.train import TrainConfig, train

SMALL = EdgeConfig.preset("small")
EC = "EdgeConfig"
ENV = "pyalgo.edge.EdgeAIGCEnv"
BENV = "pyalgo.edge.BatchedEdgeEnv"
MK = "pyalgo.edge.agents.make_agent"
TC = "pyalgo.lab.edge.train.TrainConfig"
SCH = "pyalgo.lab.edge.reproduce.Schedule"
RC = "pyalgo.lab.edge.reproduce.Config"
EVH = "pyalgo.edge.episodes.evaluate_heuristic"
EV = "pyalgo.edge.episodes.evaluate"
TINY = dict(env="small", epochs=1, steps_per_epoch=16, updates_per_epoch=1, batch_size=8, num_envs=2, hidden=8,
            T=2, eval_seeds=(100,), progress=False)


def _env(**kw):
    from pyalgo.edge import EdgeAIGCEnv
    return EdgeAIGCEnv("small", **kw)


def _reset_env(**kw):
    env = _env(**kw)
    env.reset(seed=0)
    return env


def _warned(call):
    """(result of call(), the warnings it raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return call(), list(caught)


def _benv(n=2, **kw):
    env = BatchedEdgeEnv("small", num_envs=n, **kw)
    env.reset(seed=0)
    return env


def _agent(name="sac"):
    torch.manual_seed(0)
    return make_agent(name, SMALL, 16, 2)


def _finite(x):
    return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))


def _check_env():
    from gymnasium.utils.env_checker import check_env
    check_env(_env(), skip_render_check=True)
    return True


def _episode_ok(out):
    return all(_finite(v) for v in out.values()) and np.all(out["steps"] > 0)


def _cfg(**kw):
    return lambda: EdgeConfig(**{**dict(n_servers=3, n_models=2, horizon=200_000, arrival_rate=0.0005), **kw})


def _err(op, what, call, fn, arg):
    return Case(op, what, call, fn=fn, arg=arg)


CASES = [
    # ---- EdgeConfig: every field, types and ranges
    _err("EdgeConfig", "n_servers 0", _cfg(n_servers=0), EC, "n_servers"),
    _err("EdgeConfig", "n_servers -1", _cfg(n_servers=-1), EC, "n_servers"),
    _err("EdgeConfig", "n_servers 2.5", _cfg(n_servers=2.5), EC, "n_servers"),
    _err("EdgeConfig", "n_servers str", _cfg(n_servers="3"), EC, "n_servers"),
    _err("EdgeConfig", "n_servers True", _cfg(n_servers=True), EC, "n_servers"),
    _err("EdgeConfig", "n_servers 2**63", _cfg(n_servers=2 ** 63), EC, "n_servers"),
    _err("EdgeConfig", "n_models 0", _cfg(n_models=0), EC, "n_models"),
    _err("EdgeConfig", "n_models huge", _cfg(n_models=10 ** 9), EC, "n_models"),
    _err("EdgeConfig", "n_types 0", _cfg(n_types=0), EC, "n_types"),
    _err("EdgeConfig", "n_users 0", _cfg(n_users=0), EC, "n_users"),
    _err("EdgeConfig", "horizon 0", _cfg(horizon=0), EC, "horizon"),
    _err("EdgeConfig", "horizon 2**63", _cfg(horizon=2 ** 63), EC, "horizon"),
    _err("EdgeConfig", "arrival_rate 0", _cfg(arrival_rate=0.0), EC, "arrival_rate"),
    _err("EdgeConfig", "arrival_rate nan", _cfg(arrival_rate=float("nan")), EC, "arrival_rate"),
    _err("EdgeConfig", "arrival_rate inf", _cfg(arrival_rate=float("inf")), EC, "arrival_rate"),
    _err("EdgeConfig", "arrival_rate str", _cfg(arrival_rate="fast"), EC, "arrival_rate"),
    _err("EdgeConfig", "arrival_rate*horizon 1e12 tasks", _cfg(arrival_rate=1e6), EC, "arrival_rate"),
    _err("EdgeConfig", "crash_coef -1", _cfg(crash_coef=-1.0), EC, "crash_coef"),
    _err("EdgeConfig", "crash_coef nan", _cfg(crash_coef=float("nan")), EC, "crash_coef"),
    _err("EdgeConfig", "bonus_weight -1", _cfg(bonus_weight=-1.0), EC, "bonus_weight"),
    _err("EdgeConfig", "capacity_values empty", _cfg(capacity_values=()), EC, "capacity_values"),
    _err("EdgeConfig", "capacity_values 0", _cfg(capacity_values=(0, 100)), EC, "capacity_values"),
    _err("EdgeConfig", "capacity_values nan", _cfg(capacity_values=(float("nan"),)), EC, "capacity_values"),
    _err("EdgeConfig", "capacity_values str", _cfg(capacity_values="600"), EC, "capacity_values"),
    _err("EdgeConfig", "capacity_values 1e300", _cfg(capacity_values=(1e300,)), EC, "capacity_values"),
    _err("EdgeConfig", "capacity / demand 1e6 slots", _cfg(capacity_values=(10 ** 8,), demand_values=(100,)), EC,
         "capacity_values"),
    _err("EdgeConfig", "demand_values negative", _cfg(demand_values=(-10, 100)), EC, "demand_values"),
    _err("EdgeConfig", "demand_values 1.5", _cfg(demand_values=(1.5,)), EC, "demand_values"),
    _err("EdgeConfig", "bonus_values nan", _cfg(bonus_values=(float("nan"),)), EC, "bonus_values"),
    _err("EdgeConfig", "ay_values > by_values", _cfg(ay_values=(0.9,), by_values=(0.5,)), EC, "ay_values"),
    _err("EdgeConfig", "ax >= bx", _cfg(ax_values=(300,)), EC, "ax_values"),
    _err("EdgeConfig", "runtime_coefs 3", _cfg(runtime_coefs=(1.0, 2.0, 3.0)), EC, "runtime_coefs"),
    _err("EdgeConfig", "runtime_coefs negative runtime", _cfg(runtime_coefs=(0.0, 0.0, -1.0, 1.0)), EC,
         "runtime_coefs"),
    _err("EdgeConfig", "layout bad", _cfg(layout="abc"), EC, "layout"),
    _err("EdgeConfig", "layout list", _cfg(layout=["adsac"]), EC, "layout"),
    _err("EdgeConfig", "preset unknown", lambda: EdgeConfig.preset("huge"), EC, "preset"),
    _err("EdgeConfig", "preset int", lambda: EdgeConfig.preset(3), EC, "preset"),
    Case("EdgeConfig", "extreme valid: 1024 servers", lambda: EdgeConfig(n_servers=1024, n_models=1),
         check=lambda c: c.n_actions == 1024 and c.obs_dim == 4 + 2 + 3 * 1024),
    Case("EdgeConfig", "list grids become tuples", _cfg(capacity_values=[600, 700]),
         check=lambda c: c.capacity_values == (600, 700)),

    # ---- EdgeAIGCEnv
    _err("EdgeAIGCEnv", "config int", lambda: __import__("pyalgo.edge", fromlist=["x"]).EdgeAIGCEnv(3), ENV, "config"),
    _err("EdgeAIGCEnv", "config dict unknown field",
         lambda: __import__("pyalgo.edge", fromlist=["x"]).EdgeAIGCEnv({"servers": 3}), ENV, "config"),
    _err("EdgeAIGCEnv", "rng bad", lambda: _env(rng="mt"), ENV, "rng"),
    _err("EdgeAIGCEnv", "world_seed -1", lambda: _env(world_seed=-1), ENV, "world_seed"),
    _err("EdgeAIGCEnv", "world_seed str", lambda: _env(world_seed="0"), ENV, "world_seed"),
    _err("EdgeAIGCEnv", "legacy world_seed 2**40", lambda: _env(world_seed=2 ** 40, rng="legacy"), ENV, "world_seed"),
    _err("EdgeAIGCEnv", "render_mode int", lambda: _env(render_mode=3), ENV, "render_mode"),
    # an unsupported mode warns (gymnasium's convention; SB3 passes "rgb_array") and the env runs without rendering
    Case("EdgeAIGCEnv", "render_mode human warns", lambda: _warned(lambda: _reset_env(render_mode="human")),
         check=lambda r: r[0].render_mode is None and r[0].render() is None and
         any(issubclass(w.category, UserWarning) and ENV in str(w.message) and "render_mode 'human'" in str(w.message)
             for w in r[1])),
    _err("EdgeAIGCEnv", "reset seed -1", lambda: _env().reset(seed=-1), ENV, "seed"),
    _err("EdgeAIGCEnv", "reset seed float", lambda: _env().reset(seed=1.5), ENV, "seed"),
    _err("EdgeAIGCEnv", "reset options list", lambda: _env().reset(options=[1]), ENV, "options"),
    _err("EdgeAIGCEnv", "reset episode too short", lambda: _env().reset(options={"episode": ([0], [0], [0])}), ENV,
         "episode"),
    _err("EdgeAIGCEnv", "reset episode types out of range",
         lambda: _env().reset(options={"episode": ([0, 5], [0, 99], [0, 0])}), ENV, "types"),
    _err("EdgeAIGCEnv", "step before reset", lambda: _env().step(0), ENV, "reset"),
    _err("EdgeAIGCEnv", "action -1", lambda: _reset_env().step(-1), ENV, "action"),
    _err("EdgeAIGCEnv", "action n_actions", lambda: _reset_env().step(SMALL.n_actions), ENV, "action"),
    _err("EdgeAIGCEnv", "action 2**63", lambda: _reset_env().step(2 ** 63), ENV, "action"),
    _err("EdgeAIGCEnv", "action float", lambda: _reset_env().step(1.5), ENV, "action"),
    _err("EdgeAIGCEnv", "action nan", lambda: _reset_env().step(float("nan")), ENV, "action"),
    _err("EdgeAIGCEnv", "action str", lambda: _reset_env().step("1"), ENV, "action"),
    _err("EdgeAIGCEnv", "action bool", lambda: _reset_env().step(True), ENV, "action"),
    _err("EdgeAIGCEnv", "action array of 2", lambda: _reset_env().step(np.array([1, 2])), ENV, "action"),
    Case("EdgeAIGCEnv", "action np.int64 0-d array", lambda: _reset_env().step(np.array(1)),
         check=lambda r: _finite(r[0]) and math.isfinite(r[1])),
    Case("EdgeAIGCEnv", "gymnasium env checker", _check_env, check=bool),
    Case("EdgeAIGCEnv", "legacy world_seed 2**32-1", lambda: _env(world_seed=2 ** 32 - 1, rng="legacy").reset(seed=0),
         check=lambda r: _finite(r[0])),

    # ---- BatchedEdgeEnv
    _err("BatchedEdgeEnv", "num_envs 0", lambda: BatchedEdgeEnv("small", num_envs=0), BENV, "num_envs"),
    _err("BatchedEdgeEnv", "num_envs 2.0", lambda: BatchedEdgeEnv("small", num_envs=2.0), BENV, "num_envs"),
    _err("BatchedEdgeEnv", "num_envs 2**63", lambda: BatchedEdgeEnv("small", num_envs=2 ** 63), BENV, "num_envs"),
    _err("BatchedEdgeEnv", "rng bad", lambda: BatchedEdgeEnv("small", rng="x"), BENV, "rng"),
    _err("BatchedEdgeEnv", "world_seed nan", lambda: BatchedEdgeEnv("small", world_seed=float("nan")), BENV,
         "world_seed"),
    _err("BatchedEdgeEnv", "reset 3 seeds for 2 envs", lambda: _benv().reset(seed=[0, 1, 2]), BENV, "seeds"),
    _err("BatchedEdgeEnv", "reset seed str", lambda: _benv().reset(seed="0"), BENV, "seed"),
    _err("BatchedEdgeEnv", "reset seed -5", lambda: _benv().reset(seed=[0, -5]), BENV, "seeds"),
    _err("BatchedEdgeEnv", "step before reset", lambda: BatchedEdgeEnv("small", num_envs=2).step([0, 0]), BENV,
         "reset"),
    _err("BatchedEdgeEnv", "actions wrong shape", lambda: _benv().step([0, 0, 0]), BENV, "actions"),
    _err("BatchedEdgeEnv", "actions 2-D", lambda: _benv().step([[0, 0]]), BENV, "actions"),
    _err("BatchedEdgeEnv", "actions float", lambda: _benv().step([0.0, 1.0]), BENV, "actions"),
    _err("BatchedEdgeEnv", "actions bool", lambda: _benv().step([True, False]), BENV, "actions"),
    _err("BatchedEdgeEnv", "actions out of range", lambda: _benv().step([0, 99]), BENV, "action"),
    _err("BatchedEdgeEnv", "actions -1", lambda: _benv().step([-1, 0]), BENV, "action"),
    _err("BatchedEdgeEnv", "actions int64 max", lambda: _benv().step(np.array([2 ** 63 - 1, 0])), BENV, "action"),
    _err("BatchedEdgeEnv", "load_state_dict of another env",
         lambda: _benv().load_state_dict(_benv(n=3).state_dict()), BENV, "load_state_dict"),
    Case("BatchedEdgeEnv", "actions as list, uint8", lambda: _benv().step(np.array([1, 2], np.uint8)),
         check=lambda r: _finite(r[0]) and _finite(r[1])),
    Case("BatchedEdgeEnv", "non-contiguous actions", lambda: _benv().step(np.array([1, 9, 2, 9])[::2]),
         check=lambda r: _finite(r[0]) and _finite(r[1])),

    # ---- agents and their parts
    _err("make_agent", "agent unknown", lambda: make_agent("ppo", SMALL), MK, "agent"),
    _err("make_agent", "agent None", lambda: make_agent(None, SMALL), MK, "agent"),
    _err("make_agent", "config str", lambda: make_agent("sac", "small"), MK, "config"),
    _err("make_agent", "hidden 0", lambda: make_agent("sac", SMALL, 0), MK, "hidden"),
    _err("make_agent", "hidden -3", lambda: make_agent("dqn", SMALL, -3), MK, "hidden"),
    _err("make_agent", "hidden 2**63", lambda: make_agent("sac", SMALL, 2 ** 63), MK, "hidden"),
    _err("make_agent", "hidden float", lambda: make_agent("sac", SMALL, 16.0), MK, "hidden"),
    _err("make_agent", "adsac hidden 12", lambda: make_agent("adsac", SMALL, 12), MK, "hidden"),
    _err("make_agent", "adsac hidden 1", lambda: make_agent("adsac", SMALL, 1), MK, "hidden"),
    _err("make_agent", "T 0", lambda: make_agent("d2sac", SMALL, 16, 0), MK, "T"),
    _err("make_agent", "T 2**40", lambda: make_agent("d2sac", SMALL, 16, 2 ** 40), MK, "T"),
    _err("make_agent", "schedule bad", lambda: make_agent("d2sac", SMALL, 16, 2, schedule="exp"),
         "pyalgo.edge.beta_schedule", "schedule"),
    _err("make_agent", "attention_mode bad", lambda: make_agent("adsac", SMALL, 16, 2, attention_mode="x"),
         "pyalgo.edge.AttentionDenoiser", "mode"),
    _err("make_agent", "dqn epsilon 2", lambda: make_agent("dqn", SMALL, 16, epsilon=2), MK, "epsilon"),
    _err("make_agent", "dqn epsilon nan", lambda: make_agent("dqn", SMALL, 16, epsilon=float("nan")), MK, "epsilon"),
    _err("make_agent", "dqn target_update 0", lambda: make_agent("dqn", SMALL, 16, target_update=0), MK,
         "target_update"),
    _err("make_agent", "dqn lr -1", lambda: make_agent("dqn", SMALL, 16, lr=-1.0), MK, "lr"),
    _err("make_agent", "sac alpha 0", lambda: make_agent("sac", SMALL, 16, alpha=0.0), MK, "alpha"),
    _err("make_agent", "sac alpha inf", lambda: make_agent("sac", SMALL, 16, alpha=float("inf")), MK, "alpha"),
    _err("make_agent", "sac tau 1.5", lambda: make_agent("sac", SMALL, 16, tau=1.5), MK, "tau"),
    _err("make_agent", "sac actor_lr str", lambda: make_agent("sac", SMALL, 16, actor_lr="1e-3"), MK, "actor_lr"),
    _err("make_agent", "sac grad_clip -1", lambda: make_agent("sac", SMALL, 16, grad_clip=-1.0), MK, "grad_clip"),
    _err("make_agent", "sac auto_alpha 1", lambda: make_agent("sac", SMALL, 16, auto_alpha=1), MK, "auto_alpha"),
    _err("make_agent", "unknown kwarg", lambda: make_agent("sac", SMALL, 16, lr=1e-3), MK, "lr"),
    _err("SACAgent", "policy not a module", lambda: SACAgent(object(), _agent().critic), "pyalgo.edge.SACAgent",
         "policy"),
    _err("DQNAgent", "epsilon -0.1", lambda: DQNAgent(QNetwork(4, 2, 8), epsilon=-0.1), "pyalgo.edge.DQNAgent",
         "epsilon"),
    _err("QNetwork", "state_dim 0", lambda: QNetwork(0, 2, 8), "pyalgo.edge.QNetwork", "state_dim"),
    _err("beta_schedule", "T 0", lambda: beta_schedule("vp", 0), "pyalgo.edge.beta_schedule", "T"),
    _err("agent.act", "obs wrong width", lambda: _agent().act(np.zeros((2, 5))), "pyalgo.edge.CategoricalPolicy",
         "observations"),
    _err("agent.act", "obs NaN", lambda: _agent().act(np.full((2, SMALL.obs_dim), np.nan)),
         "pyalgo.edge.CategoricalPolicy", "observations"),
    _err("agent.act", "obs inf (diffusion)", lambda: _agent("d2sac").act(np.full((1, SMALL.obs_dim), np.inf)),
         "pyalgo.edge.DiffusionActor", "observations"),
    _err("agent.act", "obs strings", lambda: _agent().act([["a"] * SMALL.obs_dim]), "pyalgo.edge.SACAgent.act",
         "obs"),
    _err("agent.act", "dqn obs 1-D", lambda: _agent("dqn").act(np.zeros(SMALL.obs_dim)), "pyalgo.edge.QNetwork",
         "observations"),
    Case("agent.act", "extreme valid obs 1e30", lambda: _agent().act(np.full((3, SMALL.obs_dim), 1e30)),
         check=lambda a: a.shape == (3,) and bool(np.all((a >= 0) & (a < SMALL.n_actions)))),
    _err("agent.act", "adsac obs 1e30: policy overflows", lambda: _agent("adsac").act(np.full((1, SMALL.obs_dim), 1e30)),
         "pyalgo.edge.SACAgent.act", "obs"),
    Case("agent.act", "empty batch", lambda: _agent("dqn").act(np.zeros((0, SMALL.obs_dim))),
         check=lambda a: a.shape == (0,)),
    Case("agent.act", "non-contiguous obs", lambda: _agent().act(np.zeros((4, 2 * SMALL.obs_dim))[:, ::2]),
         check=lambda a: a.shape == (4,)),
    _err("ReplayBuffer", "capacity 0", lambda: ReplayBuffer(0, 4), "pyalgo.edge.ReplayBuffer", "capacity"),
    _err("ReplayBuffer", "gamma 2", lambda: ReplayBuffer(8, 4, gamma=2.0), "pyalgo.edge.ReplayBuffer", "gamma"),
    _err("ReplayBuffer", "n_step 0", lambda: ReplayBuffer(8, 4, n_step=0), "pyalgo.edge.ReplayBuffer", "n_step"),
    _err("ReplayBuffer", "sample empty", lambda: ReplayBuffer(8, 4).sample(2), "pyalgo.edge.ReplayBuffer", "empty"),

    # ---- heuristics
    _err("RandomPolicy", "n_actions 0", lambda: RandomPolicy(0), "pyalgo.edge.RandomPolicy", "n_actions"),
    _err("RandomPolicy", "n_actions str", lambda: RandomPolicy("4"), "pyalgo.edge.RandomPolicy", "n_actions"),
    _err("RandomPolicy", "seed -1", lambda: RandomPolicy(4, seed=-1), "pyalgo.edge.RandomPolicy", "seed"),
    _err("RoundRobin", "n_actions -2", lambda: RoundRobin(-2), "pyalgo.edge.RoundRobin", "n_actions"),
    _err("RoundRobin", "n_actions 2**63", lambda: RoundRobin(2 ** 63), "pyalgo.edge.RoundRobin", "n_actions"),
    _err("CrashAvoid", "n_models 0", lambda: CrashAvoid(0), "pyalgo.edge.CrashAvoid", "n_models"),
    _err("Prophet", "env object", lambda: Prophet(object()), "pyalgo.edge.Prophet", "env"),
    Case("RandomPolicy", "one action", lambda: RandomPolicy(1, seed=0).act(None, {}), check=lambda a: a == 0),

    # ---- episodes
    _err("evaluate_heuristic", "name unknown", lambda: evaluate_heuristic("greedy", "small"), EVH, "name"),
    _err("evaluate_heuristic", "name None", lambda: evaluate_heuristic(None, "small"), EVH, "name"),
    _err("evaluate_heuristic", "cfg unknown", lambda: evaluate_heuristic("random", "tiny"), EVH, "cfg"),
    _err("evaluate_heuristic", "cfg int", lambda: evaluate_heuristic("random", 5), EVH, "cfg"),
    _err("evaluate_heuristic", "seeds empty", lambda: evaluate_heuristic("random", "small", seeds=()), EVH, "seeds"),
    _err("evaluate_heuristic", "seeds int", lambda: evaluate_heuristic("random", "small", seeds=3), EVH, "seeds"),
    _err("evaluate_heuristic", "seeds negative", lambda: evaluate_heuristic("random", "small", seeds=(-1,)), EVH,
         "seeds"),
    _err("evaluate_heuristic", "world_seed -1", lambda: evaluate_heuristic("random", "small", world_seed=-1), EVH,
         "world_seed"),
    _err("evaluate_heuristic", "rng bad", lambda: evaluate_heuristic("random", "small", rng="x"), EVH, "rng"),
    _err("evaluate_heuristic", "seed float", lambda: evaluate_heuristic("random", "small", seed=0.5), EVH, "seed"),
    Case("evaluate_heuristic", "prophet, 2 seeds", lambda: evaluate_heuristic("prophet", "small", seeds=(0, 1)),
         check=_episode_ok),
    Case("evaluate_heuristic", "numpy int seeds", lambda: evaluate_heuristic("crashavoid", "small",
                                                                              seeds=np.arange(2)), check=_episode_ok),
    _err("evaluate", "agent None", lambda: evaluate(None, "small"), EV, "agent"),
    _err("evaluate", "agent of another config", lambda: evaluate(make_agent("dqn", EdgeConfig(), 8), "small"), EV,
         "agent"),
    _err("evaluate", "seeds empty", lambda: evaluate(_agent("dqn"), "small", seeds=[]), EV, "seeds"),
    _err("evaluate", "seed -1", lambda: evaluate(_agent("dqn"), "small", seed=-1), EV, "seed"),
    Case("evaluate", "dqn agent", lambda: evaluate(_agent("dqn"), "small", seeds=(0,)), check=_episode_ok),
    _err("run_episodes", "act not callable", lambda: run_episodes(None, SMALL, 0, (0,)),
         "pyalgo.edge.episodes.run_episodes", "act"),

    # ---- lab: TrainConfig, train, Schedule, Config
    _err("TrainConfig", "agent unknown", lambda: TrainConfig(agent="ppo"), TC, "agent"),
    _err("TrainConfig", "env unknown", lambda: TrainConfig(env="tiny"), TC, "env"),
    _err("TrainConfig", "env int", lambda: TrainConfig(env=3), TC, "env"),
    _err("TrainConfig", "env dict bad field", lambda: TrainConfig(env={"servers": 2}), TC, "env"),
    _err("TrainConfig", "hidden 0", lambda: TrainConfig(hidden=0), TC, "hidden"),
    _err("TrainConfig", "hidden 2**63", lambda: TrainConfig(hidden=2 ** 63), TC, "hidden"),
    _err("TrainConfig", "hidden 12 (adsac)", lambda: TrainConfig(hidden=12), TC, "hidden"),
    _err("TrainConfig", "hidden 1 (adsac)", lambda: TrainConfig(hidden=1), TC, "hidden"),
    _err("TrainConfig", "epochs 0", lambda: TrainConfig(epochs=0), TC, "epochs"),
    _err("TrainConfig", "epochs 2**63", lambda: TrainConfig(epochs=2 ** 63), TC, "epochs"),
    _err("TrainConfig", "epochs float", lambda: TrainConfig(epochs=2.0), TC, "epochs"),
    _err("TrainConfig", "num_envs 0", lambda: TrainConfig(num_envs=0), TC, "num_envs"),
    _err("TrainConfig", "steps_per_epoch -1", lambda: TrainConfig(steps_per_epoch=-1), TC, "steps_per_epoch"),
    _err("TrainConfig", "updates_per_epoch -1", lambda: TrainConfig(updates_per_epoch=-1), TC, "updates_per_epoch"),
    _err("TrainConfig", "batch_size 0", lambda: TrainConfig(batch_size=0), TC, "batch_size"),
    _err("TrainConfig", "buffer_size < num_envs", lambda: TrainConfig(buffer_size=4, num_envs=8), TC, "buffer_size"),
    _err("TrainConfig", "n_step 0", lambda: TrainConfig(n_step=0), TC, "n_step"),
    _err("TrainConfig", "gamma 1.5", lambda: TrainConfig(gamma=1.5), TC, "gamma"),
    _err("TrainConfig", "gamma nan", lambda: TrainConfig(gamma=float("nan")), TC, "gamma"),
    _err("TrainConfig", "gamma str", lambda: TrainConfig(gamma="0.9"), TC, "gamma"),
    _err("TrainConfig", "T 0", lambda: TrainConfig(T=0), TC, "T"),
    _err("TrainConfig", "T True", lambda: TrainConfig(T=True), TC, "T"),
    _err("TrainConfig", "seed -1", lambda: TrainConfig(seed=-1), TC, "seed"),
    _err("TrainConfig", "seed 2**63", lambda: TrainConfig(seed=2 ** 63), TC, "seed"),
    _err("TrainConfig", "world_seed str", lambda: TrainConfig(world_seed="0"), TC, "world_seed"),
    _err("TrainConfig", "rng bad", lambda: TrainConfig(rng="mt19937"), TC, "rng"),
    _err("TrainConfig", "attention_mode bad", lambda: TrainConfig(attention_mode="none"), TC, "attention_mode"),
    _err("TrainConfig", "eval_seeds empty", lambda: TrainConfig(eval_seeds=()), TC, "eval_seeds"),
    _err("TrainConfig", "eval_seeds str", lambda: TrainConfig(eval_seeds="0"), TC, "eval_seeds"),
    _err("TrainConfig", "eval_seeds nan", lambda: TrainConfig(eval_seeds=(float("nan"),)), TC, "eval_seeds"),
    _err("TrainConfig", "eval_every 0", lambda: TrainConfig(eval_every=0), TC, "eval_every"),
    _err("TrainConfig", "warmup_steps -5", lambda: TrainConfig(warmup_steps=-5), TC, "warmup_steps"),
    _err("TrainConfig", "checkpoint_every 0", lambda: TrainConfig(checkpoint_every=0), TC, "checkpoint_every"),
    _err("TrainConfig", "checkpoint_dir int", lambda: TrainConfig(checkpoint_dir=3), TC, "checkpoint_dir"),
    _err("TrainConfig", "resume without checkpoint_dir", lambda: TrainConfig(resume=True), TC, "resume"),
    _err("TrainConfig", "resume str", lambda: TrainConfig(resume="yes"), TC, "resume"),
    _err("TrainConfig", "progress None", lambda: TrainConfig(progress=None), TC, "progress"),
    _err("TrainConfig", "agent_kwargs list", lambda: TrainConfig(agent_kwargs=[1]), TC, "agent_kwargs"),
    _err("TrainConfig", "agent_kwargs epsilon 2", lambda: TrainConfig(agent="dqn", agent_kwargs={"epsilon": 2}), TC,
         "epsilon"),
    _err("TrainConfig", "agent_kwargs unknown", lambda: TrainConfig(agent_kwargs={"lr": 1e-3}), TC, "agent_kwargs"),
    _err("TrainConfig", "agent_kwargs actor_lr nan", lambda: TrainConfig(agent_kwargs={"actor_lr": float("nan")}), TC,
         "actor_lr"),
    _err("train", "config not a TrainConfig", lambda: train({"agent": "sac"}), "pyalgo.lab.edge.train.train", "c"),
    _err("train", "log not callable", lambda: train(TrainConfig(agent="sac", **TINY), log=3),
         "pyalgo.lab.edge.train.train", "log"),
    Case("train", "tiny dqn run", lambda: train(TrainConfig(agent="dqn", **TINY)),
         check=lambda r: r.curves["epoch"] == [0] and math.isfinite(r.curves["eval_return"][0])),
    Case("train", "updates 0 (collect only)", lambda: train(TrainConfig(agent="sac", **{**TINY, "updates_per_epoch": 0})),
         check=lambda r: r.curves["updates"] == [0] and math.isnan(r.curves["critic_loss"][0])),
    _err("Schedule", "hidden 0", lambda: Schedule(hidden=0), SCH, "hidden"),
    _err("Schedule", "epochs -1", lambda: Schedule(epochs=-1), SCH, "epochs"),
    _err("Schedule", "eval_seeds empty", lambda: Schedule(eval_seeds=()), SCH, "eval_seeds"),
    _err("Schedule", "eval_seeds negative", lambda: Schedule(eval_seeds=(-1,)), SCH, "eval_seeds"),
    _err("Schedule", "buffer_size < num_envs", lambda: Schedule(buffer_size=2, num_envs=8), SCH, "buffer_size"),
    _err("Config", "env unknown", lambda: Config(env="tiny"), RC, "env"),
    _err("Config", "rng bad", lambda: Config(rng="x"), RC, "rng"),
    _err("Config", "seeds empty", lambda: Config(seeds=()), RC, "seeds"),
    _err("Config", "seeds repeated", lambda: Config(seeds=(1, 1)), RC, "seeds"),
    _err("Config", "actor_lr 0", lambda: Config(actor_lr=0.0), RC, "actor_lr"),
    _err("Config", "actor_lr nan", lambda: Config(actor_lr=float("nan")), RC, "actor_lr"),
    _err("Config", "train not a Schedule", lambda: Config(train={"epochs": 1}), RC, "train"),
    _err("Config", "checkpoints str", lambda: Config(checkpoints="yes"), RC, "checkpoints"),
    Case("Config", "tiny preset", Config.tiny, check=lambda c: c.train.epochs == 2),

    # ---- the lab's other configs and the harness (pyalgo.lab.*)
    _err("lab configs", "discrete PolyConfig lr inf", lambda: _lab("discrete", "PolyConfig", lr=float("inf")),
         "pyalgo.lab.discrete.reproduce.PolyConfig", "lr"),
    _err("lab configs", "discrete PolyConfig seeds negative", lambda: _lab("discrete", "PolyConfig", seeds=(-1,)),
         "pyalgo.lab.discrete.reproduce.PolyConfig", "seeds"),
    _err("lab configs", "discrete VAEConfig epochs 2**63", lambda: _lab("discrete", "VAEConfig", epochs=2 ** 63),
         "pyalgo.lab.discrete.reproduce.VAEConfig", "epochs"),
    _err("lab configs", "discrete VAEConfig split_seed str", lambda: _lab("discrete", "VAEConfig", split_seed="x"),
         "pyalgo.lab.discrete.reproduce.VAEConfig", "split_seed"),
    _err("lab configs", "energy Config seed 1.5", lambda: _lab("energy", "Config", seed=1.5),
         "pyalgo.lab.energy.reproduce.Config", "seed"),
    _err("lab configs", "energy Config folds str", lambda: _lab("energy", "Config", folds="x"),
         "pyalgo.lab.energy.reproduce.Config", "folds"),
    _err("lab configs", "energy Config ml_methods nan", lambda: _lab("energy", "Config", ml_methods=(float("nan"),)),
         "pyalgo.lab.energy.reproduce.Config", "ml_methods"),
    _err("lab configs", "multitask Config toy_lr inf", lambda: _lab("multitask", "Config", toy_lr=float("inf")),
         "pyalgo.lab.multitask.reproduce.Config", "toy_lr"),
    _err("lab configs", "multitask Config select str", lambda: _lab("multitask", "Config", select="x"),
         "pyalgo.lab.multitask.reproduce.Config", "select"),
    _err("lab configs", "wireless SunConfig n_train 2**63", lambda: _lab("wireless", "SunConfig", n_train=2 ** 63),
         "pyalgo.lab.wireless.reproduce.SunConfig", "n_train"),
    _err("lab configs", "wireless GNNConfig seeds negative", lambda: _lab("wireless", "GNNConfig", train_seed=-4),
         "pyalgo.lab.wireless.reproduce.GNNConfig", "train_seed"),
    _err("lab configs", "DistillConfig epochs 2**63",
         lambda: __import__("pyalgo.lab.wireless", fromlist=["x"]).DistillConfig("rl", epochs=2 ** 63),
         "pyalgo.lab.wireless.DistillConfig", "epochs"),
    _err("lab configs", "--set train.hidden=0",
         lambda: __import__("pyalgo.lab.harness", fromlist=["x"]).override(Config(), ["train.hidden=0"]),
         "Schedule", "hidden"),
    _err("harness fit", "every 0", lambda: _fit(every=0), "pyalgo.lab.test", "every"),
    _err("harness fit", "epochs -1", lambda: _fit(epochs=-1), "pyalgo.lab.test", "epochs"),
    _err("harness Checkpoint", "truncated file", lambda: _corrupt_checkpoint(), "pyalgo.lab.test", "ckpt.pt"),
    Case("harness fit", "0 epochs", lambda: _fit(epochs=0), check=lambda h: h == {}),
]


def _lab(family, cls, **kw):
    import dataclasses
    import importlib
    c = getattr(importlib.import_module(f"pyalgo.lab.{family}.reproduce"), cls)
    return dataclasses.replace(c.tiny() if hasattr(c, "tiny") else c(), **kw)


def _fit(epochs=2, every=1, checkpoint=None, resume=False):
    from pyalgo.lab.harness import TrainState, fit
    return fit(epochs, lambda e: {"loss": 1.0}, state=TrainState(), every=every, progress=False,
               name="pyalgo.lab.test", checkpoint=checkpoint, resume=resume)


def _corrupt_checkpoint():
    import tempfile
    from pathlib import Path

    from pyalgo.lab.harness import Checkpoint
    path = Path(tempfile.mkdtemp()) / "ckpt.pt"
    ck = Checkpoint(path, {"a": 1}, owner="pyalgo.lab.test")
    _fit(checkpoint=ck)
    path.write_bytes(path.read_bytes()[:200])
    return _fit(epochs=3, checkpoint=ck, resume=True)

test_case = run_table(CASES)

"""The Gymnasium env with gymnasium's own entry points and with stable-baselines3: `gym.make` with the
"module:id" form and no prior import, unsupported render modes (a warning, as gymnasium does; SB3's
`make_vec_env` passes render_mode="rgb_array"), SB3's `make_vec_env` with DummyVecEnv and
SubprocVecEnv, and SB3's `check_env`. SB3 is a test-only dependency (the `dev` extra): its tests
skip when it is missing."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from pyalgo.edge import EdgeAIGCEnv  # noqa: E402
from pyalgo.edge.env import ENV_IDS  # noqa: E402

ENV_ID = "AIGCEdge-v0"
STEPS = 6


def test_registered_ids():
    assert ENV_ID in ENV_IDS and ENV_ID in gym.registry
    assert gym.registry[ENV_ID].entry_point == "pyalgo.edge.env:EdgeAIGCEnv"


@pytest.mark.parametrize("env_id", ["pyalgo.edge:AIGCEdge-v0", "pyalgo.edge:AIGCEdge-D2SAC-v0",
                                    "pyalgo.edge.env:AIGCEdge-v0"])
def test_gym_make_module_form_needs_no_prior_import(env_id):
    """In a fresh interpreter that imported only gymnasium, as the README shows."""
    code = ("import gymnasium as gym, sys\n"
            "assert not any(m.startswith('pyalgo') for m in sys.modules)\n"
            f"env = gym.make({env_id!r})\n"
            "obs, info = env.reset(seed=0)\n"
            "obs, r, term, trunc, info = env.step(env.action_space.sample())\n"
            "print(env.spec.id, type(env.unwrapped).__name__, obs.shape == env.observation_space.shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [env_id.split(":")[1], "EdgeAIGCEnv", "True"]


@pytest.mark.parametrize("mode", ["rgb_array", "human", "rgb_array_list"])
def test_unsupported_render_mode_warns_and_proceeds(mode):
    with pytest.warns(UserWarning, match=f"unsupported render_mode '{mode}'"):
        env = EdgeAIGCEnv("small", render_mode=mode)
    assert env.render_mode is None
    obs, _ = env.reset(seed=3)
    obs2, *_ = env.step(0)
    assert env.render() is None
    ref = EdgeAIGCEnv("small")
    assert np.array_equal(obs, ref.reset(seed=3)[0]) and np.array_equal(obs2, ref.step(0)[0])


def test_supported_render_modes_unchanged():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ansi = EdgeAIGCEnv("small", render_mode="ansi")
        none = EdgeAIGCEnv("small")
    assert ansi.render_mode == "ansi" and none.render_mode is None
    ansi.reset(seed=0)
    assert ansi.render().startswith("step 0 ")
    none.reset(seed=0)
    assert none.render() is None


def test_non_string_render_mode_is_a_clear_error():
    with pytest.raises(TypeError, match="render_mode must be a str or None"):
        EdgeAIGCEnv("small", render_mode=1)


def test_gym_make_with_rgb_array_warns_and_works():
    with pytest.warns(UserWarning):
        env = gym.make(ENV_ID, config="small", render_mode="rgb_array")
    env.reset(seed=0)
    env.step(0)
    assert env.render_mode is None


# ---- stable-baselines3 ------------------------------------------------------------------------

def _rollout(vec, seed, actions):
    vec.seed(seed)
    obs = [vec.reset()]
    for a in actions:
        o, _, _, _ = vec.step(a)
        obs.append(o)
    vec.close()
    return np.stack(obs)


def _actions(n_envs, n_actions):
    rng = np.random.default_rng(0)
    return [rng.integers(0, n_actions, n_envs) for _ in range(STEPS)]


@pytest.fixture(scope="module")
def sb3():
    return pytest.importorskip("stable_baselines3")


def _make(vec_env_cls, env_id=ENV_ID, **vec_kwargs):
    from stable_baselines3.common.env_util import make_vec_env

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*render_mode")  # make_vec_env passes "rgb_array"
        return make_vec_env(env_id, n_envs=2, seed=None, vec_env_cls=vec_env_cls,
                            env_kwargs={"config": "small"}, vec_env_kwargs=vec_kwargs)


def test_sb3_make_vec_env_dummy(sb3):
    from stable_baselines3.common.vec_env import DummyVecEnv

    vec = _make(DummyVecEnv)
    assert isinstance(vec.envs[0].unwrapped, EdgeAIGCEnv) and vec.num_envs == 2
    acts = _actions(2, vec.action_space.n)
    a, b = _rollout(vec, 7, acts), _rollout(_make(DummyVecEnv), 7, acts)
    assert a.shape == (STEPS + 1, 2) + vec.observation_space.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a[:, 0], a[:, 1])  # the two envs get seeds 7 and 8
    assert not np.array_equal(a, _rollout(_make(DummyVecEnv), 8, acts))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_sb3_make_vec_env_subproc_matches_dummy(sb3, start_method):
    """SubprocVecEnv (the env made in the worker processes): same observations as DummyVecEnv. Spawned
    workers start from a fresh interpreter, so the id uses the "module:id" form."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    env_id = "pyalgo.edge:AIGCEdge-v0" if start_method == "spawn" else ENV_ID
    vec = _make(SubprocVecEnv, env_id, start_method=start_method)
    acts = _actions(2, vec.action_space.n)
    sub = _rollout(vec, 11, acts)
    assert np.array_equal(sub, _rollout(_make(DummyVecEnv), 11, acts))


def test_sb3_check_env(sb3):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from the checker either
        check_env(EdgeAIGCEnv("small"), warn=True)
        check_env(EdgeAIGCEnv("small", rng="legacy"), warn=True)

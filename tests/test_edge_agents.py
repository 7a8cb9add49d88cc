"""Agents of pyalgo.edge (spec adsac.md §2, §5.6–5.7): diffusion schedule constants, valid policies,
gradients through the whole reverse chain, attention equivariance / batch dependence, the n-step
replay buffer and its checkpoint state, SAC and DQN updates, malformed inputs."""
import io
import math

import numpy as np
import pytest
import torch

from pyalgo.edge.agents import (AttentionDenoiser, CategoricalPolicy, DiffusionActor, DoubleQCritic, DQNAgent,
                                MLPDenoiser, ObsLayout, QNetwork, ReplayBuffer, SACAgent, beta_schedule)

pytestmark = pytest.mark.usefixtures("one_thread")

LAYOUT = ObsLayout(task_dim=6, n_servers=10, server_dim=3, n_models=4)   # the adsac preset: 36 → 40


def _actor(kind="mlp", T=5, seed=0, **kw):
    torch.manual_seed(seed)
    den = MLPDenoiser(36, 40) if kind == "mlp" else AttentionDenoiser(LAYOUT, mode=kind, **kw)
    return DiffusionActor(den, 40, T=T)


def test_vp_schedule_constants_match_the_spec():
    a = _actor()
    assert a.betas.tolist() == pytest.approx([0.1959, 0.4588, 0.6358, 0.7549, 0.8350], abs=1e-4)
    assert a.alphas_cumprod.tolist() == pytest.approx([0.8041, 0.4352, 0.1585, 0.0389, 0.0064], abs=1e-4)
    assert a.posterior_variance.tolist() == pytest.approx([0, 0.1591, 0.4267, 0.6609, 0.8078], abs=1e-4)
    assert beta_schedule("linear", 3).tolist() == pytest.approx([1e-4, 0.01005, 2e-2])
    cos = beta_schedule("cosine", 10)
    assert torch.all((cos > 0) & (cos <= 0.999)) and torch.all(cos[1:] >= cos[:-1])


@pytest.mark.parametrize("kind", ["mlp", "server_tokens", "legacy_batch"])
def test_policy_probabilities_are_valid(kind):
    a = _actor(kind)
    a.eval()
    p = a.probs(torch.rand(64, 36))
    assert p.shape == (64, 40) and torch.all(p >= 0)
    assert torch.allclose(p.sum(-1), torch.ones(64), atol=1e-5)
    entropy = -(p * p.clamp_min(1e-12).log()).sum(-1)
    assert torch.all(entropy <= math.log(40) + 1e-5)


def test_untrained_mlp_actor_is_peaked():
    """Spec §5.6: an untrained MLP actor puts most mass on one action (mean max-prob ≈ 0.89, H ≈ 0.29)."""
    p = _actor().probs(torch.rand(2048, 36))
    assert 0.8 < p.max(-1).values.mean().item() < 0.95
    assert 0.15 < (-(p * p.clamp_min(1e-12).log()).sum(-1)).mean().item() < 0.45


def test_parameter_counts_match_the_released_models():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert abs(count(MLPDenoiser(36, 40)) - 101_000) < 2_000
    assert abs(count(AttentionDenoiser(LAYOUT, mode="legacy_batch")) - 491_000) < 2_000


@pytest.mark.parametrize("kind", ["mlp", "server_tokens"])
def test_gradient_reaches_the_first_denoiser_layer_through_every_step(kind):
    a = _actor(kind)
    first = a.denoiser.body[0].weight if kind == "mlp" else a.denoiser.token[0].weight
    seen = []

    def keep(module, inputs, out):      # returns None: the output is not replaced
        out.retain_grad()
        seen.append(out)

    hook = a.denoiser.register_forward_hook(keep)
    p = a.probs(torch.rand(8, 36))
    (p * torch.randn(40)).sum().backward()
    hook.remove()
    assert first.grad is not None and first.grad.abs().sum() > 0
    assert len(seen) == a.T and all(out.grad is not None and out.grad.abs().sum() > 0 for out in seen)


def test_fixed_seed_gives_fixed_actions():
    a = _actor()
    s = torch.rand(16, 36)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(a.probs(s, g1), a.probs(s, g2))
    torch.manual_seed(3)
    x = a.probs(s)
    torch.manual_seed(3)
    assert torch.equal(x, a.probs(s))


def _permute_servers(s, x, perm):
    task, servers = s[:, :6], s[:, 6:].reshape(-1, 10, 3)
    return (torch.cat([task, servers[:, perm].reshape(-1, 30)], 1),
            x.reshape(-1, 10, 4)[:, perm].reshape(-1, 40))


def test_server_token_denoiser_is_permutation_equivariant():
    den = AttentionDenoiser(LAYOUT, mode="server_tokens")
    den.eval()
    s, x, t = torch.rand(5, 36), torch.randn(5, 40), torch.tensor([0, 1, 2, 3, 4])
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    out = den(x, t, s)
    s_p, x_p = _permute_servers(s, x, perm)
    assert torch.allclose(den(x_p, t, s_p), out.reshape(5, 10, 4)[:, perm].reshape(5, 40), atol=1e-5)


@pytest.mark.parametrize("kind,depends", [("mlp", False), ("server_tokens", False), ("legacy_batch", True)])
def test_batch_dependence(kind, depends):
    """Spec §5.7: the released attention makes sample 0's output depend on the other rows (eval mode)."""
    torch.manual_seed(0)
    den = MLPDenoiser(36, 40) if kind == "mlp" else AttentionDenoiser(LAYOUT, mode=kind)
    den.eval()
    s, x, t = torch.rand(6, 36), torch.randn(6, 40), torch.full((6,), 2)
    base = den(x, t, s)[0]
    s2 = s.clone()
    s2[1:] = torch.rand(5, 36)
    changed = den(x, t, s2)[0]
    assert (not torch.allclose(base, changed, atol=1e-6)) == depends
    assert torch.allclose(den(x[:1], t[:1], s[:1])[0], base, atol=1e-5) != depends


def test_replay_buffer_n_step_returns_by_hand():
    buf = ReplayBuffer(capacity=20, state_dim=1, n_envs=1, n_step=3, gamma=0.5)
    rewards = [1.0, 2.0, 4.0, 8.0, 16.0]
    ends = [False, False, True, False, False]     # step 2 terminates the episode
    for i, (r, d) in enumerate(zip(rewards, ends)):
        buf.add([[float(i)]], [i], [r], [[float(i + 1)]], [d], [False])
    gen = torch.Generator().manual_seed(0)
    seen = {}
    for _ in range(20):
        b = buf.sample(16, gen)
        for o, ret, nxt, disc in zip(b.obs[:, 0].tolist(), b.ret.tolist(), b.next_obs[:, 0].tolist(), b.discount.tolist()):
            seen[int(o)] = (ret, nxt, disc)
    assert seen[0] == pytest.approx((1 + 0.5 * 2 + 0.25 * 4, 3.0, 0.0))       # cut at the termination, no bootstrap
    assert seen[1] == pytest.approx((2 + 0.5 * 4, 3.0, 0.0))
    assert seen[3] == pytest.approx((8 + 0.5 * 16, 5.0, 0.25))                # only 2 later steps stored yet
    assert len(buf) == 5


def test_replay_buffer_truncation_bootstraps():
    buf = ReplayBuffer(capacity=10, state_dim=1, n_step=2, gamma=0.5)
    buf.add([[0.0]], [0], [1.0], [[1.0]], [False], [True])       # truncated: stop, but bootstrap
    buf.add([[5.0]], [1], [3.0], [[6.0]], [False], [False])
    b = buf.sample(32, torch.Generator().manual_seed(0))
    row = b.obs[:, 0] == 0
    assert torch.all(b.ret[row] == 1.0) and torch.all(b.discount[row] == 0.5) and torch.all(b.next_obs[row, 0] == 1.0)


@pytest.mark.parametrize("steps", [3, 13])       # part filled, and wrapped around
def test_replay_buffer_state_dict_round_trip(steps):
    buf = ReplayBuffer(capacity=20, state_dim=2, n_envs=2, n_step=3, gamma=0.5)
    g = np.random.default_rng(0)
    for i in range(steps):
        buf.add(g.random((2, 2)), g.integers(5, size=2), g.random(2), g.random((2, 2)), g.random(2) < 0.2,
                g.random(2) < 0.1)
    raw = io.BytesIO()
    torch.save(buf.state_dict(), raw)
    raw.seek(0)
    other = ReplayBuffer(capacity=20, state_dim=2, n_envs=2, n_step=3, gamma=0.5)
    other.load_state_dict(torch.load(raw, weights_only=True))
    assert len(other) == len(buf) and other.pos == buf.pos
    a, b = buf.sample(64, torch.Generator().manual_seed(1)), other.sample(64, torch.Generator().manual_seed(1))
    for name in ("obs", "action", "ret", "next_obs", "discount"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    with pytest.raises(ValueError, match=r"ReplayBuffer.load_state_dict: saved \(size per env, envs, state dim\)"):
        ReplayBuffer(capacity=20, state_dim=3, n_envs=2).load_state_dict(buf.state_dict())


def _batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    from pyalgo.edge.agents import Batch
    return Batch(torch.rand(n, 36, generator=g), torch.randint(40, (n,), generator=g), torch.rand(n, generator=g),
                 torch.rand(n, 36, generator=g), torch.full((n,), 0.95 ** 3))


@pytest.mark.parametrize("policy", ["diffusion", "categorical"])
def test_sac_update_fits_the_critic(policy):
    torch.manual_seed(0)
    pol = DiffusionActor(MLPDenoiser(36, 40, hidden=64), 40) if policy == "diffusion" else CategoricalPolicy(36, 40, 64)
    agent = SACAgent(pol, DoubleQCritic(36, 40, 64))
    batch = _batch()
    losses = [agent.update(batch)["critic_loss"] for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    # targets were soft-updated towards the online networks
    moved = [(t - s).abs().max() for t, s in zip(agent.target_critic.parameters(), agent.critic.parameters())]
    assert max(moved) > 0 and agent.alpha == pytest.approx(0.05)


def test_auto_alpha_moves_towards_the_target_entropy():
    torch.manual_seed(0)
    high = SACAgent(CategoricalPolicy(36, 40, 32), DoubleQCritic(36, 40, 32), auto_alpha=True, target_entropy=0.1,
                    alpha_lr=0.05)
    low = SACAgent(CategoricalPolicy(36, 40, 32), DoubleQCritic(36, 40, 32), auto_alpha=True,
                   target_entropy=math.log(40) + 1, alpha_lr=0.05)
    for _ in range(5):
        high.update(_batch())
        low.update(_batch())
    assert high.alpha < 0.05 < low.alpha       # entropy above target → α falls; below → α rises


def test_sac_state_dict_round_trip():
    torch.manual_seed(0)
    a = SACAgent(CategoricalPolicy(36, 40, 32), DoubleQCritic(36, 40, 32), auto_alpha=True)
    a.update(_batch())
    b = SACAgent(CategoricalPolicy(36, 40, 32), DoubleQCritic(36, 40, 32), auto_alpha=True)
    b.load_state_dict(a.state_dict())
    s = torch.rand(4, 36)
    assert torch.equal(a.policy.probs(s), b.policy.probs(s)) and a.alpha == b.alpha


def test_dqn_update_and_hard_target():
    torch.manual_seed(0)
    agent = DQNAgent(QNetwork(36, 40, 64), target_update=5)
    batch = _batch()
    before = [p.clone() for p in agent.target_q.parameters()]
    for _ in range(4):
        agent.update(batch)
    assert all(torch.equal(a, b) for a, b in zip(before, agent.target_q.parameters()))
    agent.update(batch)
    assert all(torch.equal(a, b) for a, b in zip(agent.q.parameters(), agent.target_q.parameters()))
    acts = agent.act(np.random.rand(1000, 36).astype(np.float32), generator=torch.Generator().manual_seed(0))
    greedy = agent.act(np.random.rand(1000, 36).astype(np.float32), deterministic=True)
    assert acts.shape == (1000,) and greedy.min() >= 0 and acts.max() < 40


@pytest.mark.parametrize("make,match", [
    (lambda: _actor().probs(torch.rand(4, 35)), r"DiffusionActor: observations must have shape \(batch, 36\), got \(4, 35\)"),
    (lambda: _actor().probs(torch.rand(36)), r"observations must have shape \(batch, 36\), got \(36,\)"),
    (lambda: CategoricalPolicy(36, 40).probs(torch.rand(2, 3)), r"CategoricalPolicy: observations must have shape"),
    (lambda: QNetwork(36, 40)(torch.rand(2, 37)), r"QNetwork: observations must have shape \(batch, 36\)"),
    (lambda: AttentionDenoiser(LAYOUT, mode="batch"), r"mode must be 'server_tokens' or 'legacy_batch'"),
    (lambda: beta_schedule("quadratic", 5), r"schedule must be 'vp', 'linear' or 'cosine'"),
    (lambda: beta_schedule("vp", 0), r"T must be an integer >= 1"),
    (lambda: ReplayBuffer(0, 36), r"ReplayBuffer: need capacity >= n_envs >= 1"),
    (lambda: SACAgent(CategoricalPolicy(36, 40), DoubleQCritic(36, 40), alpha=0.0), r"alpha must be > 0"),
])
def test_malformed_inputs(make, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        make()

"""Loaders of pyalgo.energy.data against the datasets' published sizes (pyalgo/energy/datasets/README.md),
plus k-fold and the synthetic Ising generator."""
import itertools
import math

import numpy as np
import pytest
import torch

from pyalgo.energy import data as D

# §4a: rows train/test, features, labels, mean labels per row train/test
MULTILABEL_TABLE = {
    "yeast": (1500, 917, 103, 14, 4.23, 4.25),
    "scene": (1211, 1196, 294, 6, 1.06, 1.09),
    "emotions": (391, 202, 72, 6, 1.81, 1.98),
}
# §4b: n_samples, n_features, k
RANKING_TABLE = {
    "iris": (150, 4, 3), "wine": (178, 13, 3), "glass": (214, 9, 6),
    "vehicle": (846, 18, 4), "stock": (950, 5, 5), "authorship": (841, 70, 4),
}


@pytest.fixture(scope="module")
def multilabel():
    return {name: D.load_multilabel(name) for name in D.MULTILABEL}


@pytest.fixture(scope="module")
def multilabel_raw():
    return {name: D.load_multilabel(name, standardize=False) for name in D.MULTILABEL}


# ------------------------------------------------------------------------------------------------ multilabel
@pytest.mark.parametrize("name", sorted(MULTILABEL_TABLE))
def test_multilabel_counts_match_table(multilabel, name):
    n_tr, n_te, d, k, mean_tr, mean_te = MULTILABEL_TABLE[name]
    ds = multilabel[name]
    assert ds.name == name
    assert tuple(ds.x_train.shape) == (n_tr, d) and tuple(ds.x_test.shape) == (n_te, d)
    assert tuple(ds.y_train.shape) == (n_tr, k) and tuple(ds.y_test.shape) == (n_te, k)
    assert len(ds.feature_names) == d and len(ds.label_names) == k
    for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        assert t.dtype == torch.float32
    assert round(ds.y_train.sum(1).mean().item(), 2) == mean_tr
    assert round(ds.y_test.sum(1).mean().item(), 2) == mean_te
    for y in (ds.y_train, ds.y_test):
        assert set(torch.unique(y).tolist()) == {0.0, 1.0}
        assert (y.sum(1) >= 1).all()


@pytest.mark.parametrize("name", sorted(MULTILABEL_TABLE))
def test_multilabel_standardised_with_train_stats(multilabel, multilabel_raw, name):
    ds, raw = multilabel[name], multilabel_raw[name]
    x = ds.x_train.double()
    assert x.mean(0).abs().max() < 1e-5
    std = x.std(0, unbiased=False)
    constant = raw.x_train.double().std(0, unbiased=False) < 1e-12
    assert torch.allclose(std[~constant], torch.ones_like(std[~constant]), atol=1e-5)
    assert torch.isfinite(ds.x_test).all()
    # test uses the train statistics, not its own
    mu = raw.x_train.double().mean(0)
    sd = raw.x_train.double().std(0, unbiased=False)
    sd = torch.where(sd > 1e-12, sd, torch.ones_like(sd))
    assert torch.allclose(ds.x_test.double(), (raw.x_test.double() - mu) / sd, atol=1e-4)
    assert ds.x_test.double().mean(0).abs().max() > 1e-3  # would be ~0 if test were standardised by itself
    assert torch.equal(ds.y_train, raw.y_train) and torch.equal(ds.y_test, raw.y_test)


def test_emotions_raw_features_are_unscaled(multilabel_raw):
    x = multilabel_raw["emotions"].x_train
    assert x.min() < -50 and x.max() > 200  # §4a: ≈ −99 … 237


def test_label_names_and_arff_order(multilabel):
    assert multilabel["yeast"].label_names == [f"Class{i}" for i in range(1, 15)]
    assert multilabel["scene"].label_names == ["Beach", "Sunset", "FallFoliage", "Field", "Mountain", "Urban"]
    assert multilabel["emotions"].label_names == ["amazed-suprised", "happy-pleased", "relaxing-calm",
                                                  "quiet-still", "sad-lonely", "angry-aggresive"]


def test_yeast_label_columns_follow_arff_not_xml(multilabel_raw):
    # the XML lists Class4 after Class6; column j must still be the ARFF attribute Class{j+1}
    path = D.DATASETS_DIR / "multilabel" / "yeast-train.arff"
    lines = path.read_text().splitlines()
    first_row = lines[[i for i, l in enumerate(lines) if l.strip().lower() == "@data"][0] + 1]
    values = first_row.split(",")
    assert multilabel_raw["yeast"].y_train[0].tolist() == [float(v) for v in values[-14:]]
    assert multilabel_raw["yeast"].x_train[0].tolist() == pytest.approx([float(v) for v in values[:103]], rel=1e-6)
    xml_order = D._read_label_xml(D.DATASETS_DIR / "multilabel" / "yeast.xml", "t")
    assert xml_order != multilabel_raw["yeast"].label_names  # the trap is really there


def _write_arff(path, rows, labels_domain="{0,1}", label_names=("L1", "L2")):
    head = ["@relation toy", "@attribute f1 numeric", "@attribute f2 numeric"]
    head += [f"@attribute {n} {labels_domain}" for n in label_names]
    path.write_text("\n".join(head + ["@data"] + rows) + "\n")
    return path


def _write_xml(path, names):
    body = "".join(f'<label name="{n}"></label>' for n in names)
    path.write_text(f'<?xml version="1.0"?><labels xmlns="http://mulan.sourceforge.net/labels">{body}</labels>')
    return path


def test_user_arff_with_xml_and_without(tmp_path):
    tr = _write_arff(tmp_path / "toy-train.arff", ["1,10,0,1", "3,10,1,1", "5,10,1,0"])
    te = _write_arff(tmp_path / "toy-test.arff", ["3,12,0,1"])
    xml = _write_xml(tmp_path / "toy.xml", ["L2", "L1"])  # XML order differs: ARFF order wins
    ds = D.load_multilabel(tr, te, xml)
    assert ds.name == "toy" and ds.label_names == ["L1", "L2"] and ds.feature_names == ["f1", "f2"]
    assert ds.y_train.tolist() == [[0, 1], [1, 1], [1, 0]] and ds.y_test.tolist() == [[0, 1]]
    sd = math.sqrt(8 / 3)
    assert ds.x_train[:, 0].tolist() == pytest.approx([-2 / sd, 0, 2 / sd], rel=1e-6)
    assert ds.x_train[:, 1].tolist() == [0, 0, 0]  # constant column: centred, not nan
    assert ds.x_test[0].tolist() == pytest.approx([0.0, 2.0])  # train mean 10, std guarded to 1
    # no XML: trailing {0,1} attributes; no test file: empty test split
    ds2 = D.load_multilabel(str(tr), standardize=False)
    assert ds2.label_names == ["L1", "L2"] and ds2.x_train[:, 0].tolist() == [1, 3, 5]
    assert tuple(ds2.x_test.shape) == (0, 2) and tuple(ds2.y_test.shape) == (0, 2)
    # an XML naming only L2 makes the nominal {0,1} L1 a feature (one 0/1 column), as in mulan's sets whose
    # features are {0,1} (enron, medical, bibtex) -- issue 17 changed this from an error
    ds3 = D.load_multilabel(tr, labels_xml=_write_xml(tmp_path / "one.xml", ["L2"]), standardize=False)
    assert ds3.label_names == ["L2"] and ds3.feature_names == ["f1", "f2", "L1"]
    assert ds3.x_train.tolist() == [[1, 10, 0], [3, 10, 1], [5, 10, 1]] and ds3.y_train.tolist() == [[1], [1], [0]]


def test_multilabel_errors(tmp_path):
    tr = _write_arff(tmp_path / "a.arff", ["1,2,0,1"])
    with pytest.raises(ValueError, match=r"pyalgo\.energy\.load_multilabel: name_or_train_path must be one of"):
        D.load_multilabel("yeastt")
    with pytest.raises(ValueError, match=r"load_multilabel: test_path must be an existing file"):
        D.load_multilabel(tr, tmp_path / "missing.arff")
    with pytest.raises(ValueError, match=r"load_multilabel: labels_xml must be an existing file"):
        D.load_multilabel(tr, labels_xml=tmp_path / "missing.xml")
    with pytest.raises(ValueError, match=r"load_multilabel: test_path and labels_xml must be None"):
        D.load_multilabel("yeast", test_path=tr)
    with pytest.raises(ValueError, match=r"load_multilabel: labels_xml names labels absent .*'L9'"):
        D.load_multilabel(tr, labels_xml=_write_xml(tmp_path / "bad.xml", ["L1", "L9"]))
    # a label value 2 under a {0,1} domain (scipy rejects it) and under a numeric declaration (we reject it)
    bad = _write_arff(tmp_path / "b.arff", ["1,2,0,1", "1,2,2,1"])
    with pytest.raises(ValueError, match=r"load_multilabel: name_or_train_path .*2"):
        D.load_multilabel(bad)
    bad_num = _write_arff(tmp_path / "c.arff", ["1,2,0,1", "1,2,2,1"], labels_domain="numeric")
    with pytest.raises(ValueError, match=r"load_multilabel: name_or_train_path label 'L1' must take values in"):
        D.load_multilabel(bad_num, labels_xml=_write_xml(tmp_path / "ok.xml", ["L1", "L2"]))
    bad_dom = _write_arff(tmp_path / "d.arff", ["1,2,0,1", "1,2,2,1"], labels_domain="{0,1,2}")
    with pytest.raises(ValueError, match=r"label 'L1' must take values in \{0, 1\}, got 2"):
        D.load_multilabel(bad_dom, labels_xml=tmp_path / "ok.xml")
    with pytest.raises(ValueError, match=r"labels_xml is None and .* no trailing"):
        D.load_multilabel(bad_dom)
    other = tmp_path / "e.arff"
    other.write_text("@relation x\n@attribute f1 numeric\n@attribute L1 {0,1}\n@attribute L2 {0,1}\n@data\n1,0,1\n")
    with pytest.raises(ValueError, match=r"load_multilabel: test_path must have the same attributes"):
        D.load_multilabel(tr, other)
    with pytest.raises(TypeError, match=r"load_multilabel: name_or_train_path must be"):
        D.load_multilabel(3)


# ------------------------------------------------------------------------------------------------ label ranking
@pytest.mark.parametrize("name", sorted(RANKING_TABLE))
def test_label_ranking_counts_and_permutations(name):
    n, d, k = RANKING_TABLE[name]
    ds = D.load_label_ranking(name)
    assert ds.name == name
    assert tuple(ds.x.shape) == (n, d) and ds.x.dtype == torch.float32
    assert tuple(ds.ranks.shape) == (n, k) and ds.ranks.dtype == torch.int64
    assert torch.equal(ds.ranks.sort(1).values, torch.arange(1, k + 1).expand(n, k))
    y = ds.perms
    assert y.dtype == torch.int64 and torch.equal(y, k - ds.ranks)
    assert torch.equal(y.sort(1).values, torch.arange(k).expand(n, k))
    # features kept as in the file (already scaled): min-max files hit ±1 exactly
    if name in ("iris", "wine", "glass", "vehicle"):
        assert ds.x.min().item() == -1.0 and ds.x.max().item() == 1.0


def test_iris_convention():
    ds = D.load_label_ranking("iris")
    assert (ds.ranks[:50] == torch.tensor([1, 2, 3])).all()
    versicolor_first = (ds.ranks[50:100, 1] == 1).float().mean().item()
    assert versicolor_first > 0.8
    assert (ds.perms[:50] == torch.tensor([2, 1, 0])).all()  # label 0 most preferred → score position k−1
    # first row of the file, parsed exactly
    row = (D.DATASETS_DIR / "label_ranking" / "iris.csv").read_text().splitlines()[1].split(",")
    assert ds.x[0].tolist() == pytest.approx([float(v) for v in row[:4]], rel=1e-6)


def test_user_ranking_csv_and_errors(tmp_path):
    good = tmp_path / "mine.csv"
    good.write_text("3,2,3\n0.5,1.5,2,1,3\n-1,0,3,2,1\n2,2,1,2,3\n")
    ds = D.load_label_ranking(good)
    assert ds.name == "mine" and ds.x.tolist() == [[0.5, 1.5], [-1, 0], [2, 2]]
    assert ds.ranks.tolist() == [[2, 1, 3], [3, 2, 1], [1, 2, 3]]
    assert ds.perms.tolist() == [[1, 2, 0], [0, 1, 2], [2, 1, 0]]
    cases = {
        "4,2,3\n0.5,1.5,2,1,3\n": r"header says 4 rows of 2 features \+ 3 ranks, got a table of shape \(1, 5\)",
        "1,3,3\n0.5,1.5,2,1,3\n": r"header says 1 rows of 3 features",
        "2,2,3\n0.5,1.5,2,1,3\n1,1,1,1,3\n": r"rank rows must be permutations of 1\.\.3, got \[1, 1, 3\] in data row 2",
        "1,2,3\n0.5,1.5,0,1,2\n": r"permutations of 1\.\.3, got \[0, 1, 2\]",
        "1,2,3\n0.5,1.5,1.5,1,3\n": r"ranks must be integers",
        "n,d,k\n0.5,1.5,2,1,3\n": r"first line must be 'n_samples,n_features,n_labels'",
        "1,2,3\n0.5,abc,2,1,3\n": r"rows must be comma-separated numbers",
    }
    for i, (text, msg) in enumerate(cases.items()):
        p = tmp_path / f"bad{i}.csv"
        p.write_text(text)
        with pytest.raises(ValueError, match=r"pyalgo\.energy\.load_label_ranking: name_or_path .*" + msg):
            D.load_label_ranking(p)
    with pytest.raises(ValueError, match=r"load_label_ranking: name_or_path must be one of .* existing CSV"):
        D.load_label_ranking("irises")


# ------------------------------------------------------------------------------------------------ k-fold, standardize
def test_kfold_disjoint_cover_seeded():
    n = 103
    splits = D.kfold_indices(n, folds=10, seed=3)
    assert len(splits) == 10
    tests = [te for _, te in splits]
    assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(n))  # disjoint and covering
    assert {len(te) for te in tests} == {10, 11}
    for tr, te in splits:
        assert tr.dtype == np.int64 and te.dtype == np.int64
        assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n)) and not np.intersect1d(tr, te).size
    again = D.kfold_indices(n, folds=10, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    other = D.kfold_indices(n, folds=10, seed=4)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(splits, other))
    assert not np.array_equal(tests[0], np.arange(len(tests[0])))  # shuffled, not contiguous blocks
    for bad in [dict(n=0), dict(n=10, folds=1), dict(n=5, folds=6), dict(n=10, seed=1.5)]:
        with pytest.raises(ValueError, match=r"pyalgo\.energy\.kfold_indices: "):
            D.kfold_indices(**bad)


def test_standardize_numpy_and_torch():
    rng = np.random.default_rng(0)
    tr, te = rng.normal(3, 2, (50, 4)), rng.normal(3, 2, (7, 4))
    tr[:, 2] = 5.0
    a, b = D.standardize(tr, te)
    assert np.allclose(a.mean(0), 0) and np.allclose(a[:, [0, 1, 3]].std(0), 1) and np.all(a[:, 2] == 0)
    assert np.allclose(b, (te - tr.mean(0)) / np.where(tr.std(0) > 0, tr.std(0), 1))
    ta, tb = D.standardize(torch.from_numpy(tr).float(), torch.from_numpy(te).float())
    assert ta.dtype == torch.float32 and np.allclose(ta.numpy(), a, atol=1e-5) and np.allclose(tb.numpy(), b, atol=1e-5)
    (only,) = D.standardize(tr)
    assert np.allclose(only, a)
    with pytest.raises(ValueError, match=r"pyalgo\.energy\.standardize: every array must be 2-D with 4 columns"):
        D.standardize(tr, te[:, :3])


# ------------------------------------------------------------------------------------------------ synthetic Ising
def _exact_probs(unary, pairwise):
    """Independent enumeration: p(y|x) over all 2^k states in itertools order, (N, 2^k), and the states."""
    k = unary.shape[1]
    states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=k)), dtype=torch.float64)
    g = unary.double() @ states.T + 0.5 * torch.einsum("si,nij,sj->ns", states, pairwise.double(), states)
    return torch.softmax(g, dim=1), states, torch.logsumexp(g, 1) - k * math.log(2)


def test_synthetic_ising_reproducible_and_exact_marginals():
    pytest.importorskip("pyalgo.energy.reference", reason="synthetic_ising uses reference.all_bits/energy_bits")
    s = D.synthetic_ising(4000, 500, k=8, d=20, seed=7)
    s2 = D.synthetic_ising(4000, 500, k=8, d=20, seed=7)
    for a, b in [(s.x_train, s2.x_train), (s.y_train, s2.y_train), (s.x_test, s2.x_test), (s.y_test, s2.y_test)]:
        assert torch.equal(a, b)
    s3 = D.synthetic_ising(4000, 500, k=8, d=20, seed=8)
    assert not torch.equal(s.y_train, s3.y_train)
    assert torch.equal(D.synthetic_ising(4000, 10, seed=7).y_train, s.y_train)  # train independent of num_test
    assert s.x_train.dtype == torch.float64 and tuple(s.y_train.shape) == (4000, 8) and tuple(s.x_test.shape) == (500, 20)
    assert set(torch.unique(s.y_train).tolist()) == {0.0, 1.0}

    unary, pairwise = s.true_parameters(s.x_train)
    assert tuple(unary.shape) == (4000, 8) and tuple(pairwise.shape) == (4000, 8, 8)
    assert torch.allclose(pairwise, pairwise.transpose(1, 2)) and (torch.diagonal(pairwise, dim1=1, dim2=2) == 0).all()
    p, states, lse = _exact_probs(unary, pairwise)
    # neither uniform nor deterministic: LSE varies by a few nats, entropy well inside (0, k log 2)
    assert 1.5 < lse.std().item() < 10
    entropy = -(p * p.clamp_min(1e-300).log()).sum(1).mean().item()
    assert 0.5 < entropy < 8 * math.log(2) - 0.5
    # empirical label frequencies vs the exact marginals, within 4.5 standard errors (fixed seed: deterministic)
    marg = p @ states  # (N, k) exact P(y_j = 1 | x_n)
    se = (marg * (1 - marg)).sum(0).sqrt() / marg.shape[0]
    z = (s.y_train.mean(0) - marg.mean(0)) / se
    assert z.abs().max() < 4.5, z
    # and pairwise co-occurrence of labels 0 and 1 (tests the pairwise term is really used when sampling)
    pair = p @ (states[:, 0] * states[:, 1])
    z01 = ((s.y_train[:, 0] * s.y_train[:, 1]).mean() - pair.mean()) / ((pair * (1 - pair)).sum().sqrt() / len(pair))
    assert abs(z01) < 4.5
    # the sampled labels are far likelier under the truth than under the unary-only model
    idx = (s.y_train @ (2 ** torch.arange(7, -1, -1, dtype=torch.float64))).long()
    loglik = p.gather(1, idx[:, None]).log().mean()
    p_unary, _, _ = _exact_probs(unary, torch.zeros_like(pairwise))
    assert loglik > p_unary.gather(1, idx[:, None]).log().mean() + 0.1
    # float32 variant: same draws, cast
    s32 = D.synthetic_ising(4000, 500, k=8, d=20, seed=7, dtype=torch.float32)
    assert s32.x_train.dtype == torch.float32 and torch.equal(s32.y_train, s.y_train.float())


def test_synthetic_ising_errors():
    for bad, msg in [(dict(k=129), "k must be <= 128"), (dict(num_train=-1), "num_train must be an int >= 0"),
                     (dict(dtype=torch.int64), "dtype must be"), (dict(unary_scale=float("nan")), "unary_scale")]:
        kw = dict(num_train=10, num_test=5)
        kw.update(bad)
        with pytest.raises(ValueError, match=r"pyalgo\.energy\.synthetic_ising: " + msg):
            D.synthetic_ising(**kw)

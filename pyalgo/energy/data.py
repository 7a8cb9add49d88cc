"""Data loaders for the min-min EBM experiments (docs/energy.md, "Data").

Everything is read from the copies bundled in ``pyalgo/energy/datasets/`` (see the README there for the
attribution); nothing is downloaded at run time. A user's own files load through the same functions by path.

- Multilabel: mulan ARFF train/test files + label XML → :class:`MultilabelData`, features standardised
  with train-split statistics, labels float {0,1} in ARFF attribute order.
- Label ranking: scikit-lr CSV (header ``n_samples,n_features,n_labels``) → :class:`RankingData`,
  ``ranks`` (1 = most preferred) and ``perms`` = k − ranks (the package convention's ``y``);
  :meth:`RankingData.split` gives a :class:`RankingSplit` (train/test rows).
- :func:`kfold_indices`: seeded k-fold splits (the label-ranking files have no train/test split).
- :func:`synthetic_ising`: exact samples from a ground-truth Ising EBM with known parameters (the toy
  on which a learned τ can be compared with the exact log-partition).
- :func:`synthetic_plackett_luce`: exact label-ranking samples from a ground-truth Plackett–Luce model
  with linear scores, any number of labels (learning quality measurable against the truth at any k).
"""
from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, TypeVar, Union

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)
PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "MULTILABEL",
    "LABEL_RANKING",
    "DATASETS_DIR",
    "MultilabelData",
    "RankingData",
    "RankingSplit",
    "SyntheticIsing",
    "SyntheticPlackettLuce",
    "load_multilabel",
    "load_label_ranking",
    "kfold_indices",
    "standardize",
    "synthetic_ising",
    "synthetic_plackett_luce",
]

MULTILABEL = ("yeast", "emotions", "scene")
LABEL_RANKING = ("iris", "wine", "glass", "vehicle", "stock", "authorship")
DATASETS_DIR = Path(__file__).resolve().parent / "datasets"

_STD_FLOOR = 1e-12  # features with a smaller train std are only centred (constant columns stay 0, not nan)


def _err(fn, msg):
    return ValueError(f"pyalgo.energy.{fn}: {msg}")


def _read_text(path, fn, arg):
    """The text of a data file: gzip-compressed files are recognised by their magic bytes, and a file that is
    not UTF-8 is read as latin-1 (every byte sequence is valid latin-1)."""
    import gzip
    import zlib

    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise _err(fn, f"{arg} could not be read ({path}): {e}") from e
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise _err(fn, f"{arg} is a corrupt or truncated gzip file ({path}): {e}") from e
    if b"\x00" in raw:
        raise _err(fn, f"{arg} is a binary file, not text ({path})")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# ----------------------------------------------------------------------------------------------------------
# standardisation
# ----------------------------------------------------------------------------------------------------------
def standardize(train: ArrayT, *others: ArrayT) -> Tuple[ArrayT, ...]:
    """Z-score columns with the mean/std of ``train`` only.

    std is the population std (ddof 0); columns whose train std is ~0 are only centred.

    Args:
        train: (N, d), numpy array or torch tensor.
        *others: (N_i, d) arrays of the same kind.

    Returns:
        ``(train_z, *others_z)``, each of its input's kind and dtype.

    Raises:
        ValueError: a shape mismatch, no train row, or a non-finite value.
        TypeError: mixed kinds or non-real arrays.

    Example:
        x_train, x_test = standardize(x_train, x_test)
    """
    arrays = (train,) + others
    for a in arrays:
        if a.ndim != 2 or a.shape[1] != train.shape[1]:
            raise ValueError(f"pyalgo.energy.standardize: every array must be 2-D with {train.shape[-1]} "
                             f"columns (like train), got shape {tuple(a.shape)}")
    if isinstance(train, torch.Tensor):
        if not all(isinstance(a, torch.Tensor) for a in arrays):
            raise TypeError("pyalgo.energy.standardize: train and others must all be torch tensors or all "
                            "numpy arrays, got a mix")
        for a in arrays:
            if a.is_complex():
                raise TypeError(f"pyalgo.energy.standardize: arrays must be real numbers, got dtype {a.dtype}")
        out = tuple(z.to(a.dtype if a.dtype.is_floating_point else torch.float64)
                    for z, a in zip(_zscore([a.detach().double() for a in arrays], train.shape[0]), arrays))
    else:
        arrays = tuple(np.asarray(a) for a in arrays)
        for a in arrays:
            if a.dtype.kind not in "biuf":
                raise TypeError(f"pyalgo.energy.standardize: arrays must be real numbers, got dtype {a.dtype}")
        out64 = _zscore([a.astype(np.float64) for a in arrays], arrays[0].shape[0])
        out = tuple(z.astype(a.dtype if a.dtype.kind == "f" else np.float64) for z, a in zip(out64, arrays))
    return out


def _zscore(arrays, n_train):
    """(a − mean) / std of float64 arrays (all numpy or all torch) with the train (arrays[0]) statistics. When
    the plain formula would overflow (|x| near the float64 maximum), every column is first divided by its
    largest train magnitude, so the statistics stay finite (the z-scores are the same up to rounding)."""
    xp_torch = isinstance(arrays[0], torch.Tensor)
    for i, a in enumerate(arrays):
        bad = ~(torch.isfinite(a) if xp_torch else np.isfinite(a))
        if bad.any():
            r, c = (torch.nonzero(bad)[0].tolist() if xp_torch else np.argwhere(bad)[0])
            what = "train" if i == 0 else f"others[{i - 1}]"
            raise ValueError(f"pyalgo.energy.standardize: every value must be finite, got {float(a[r, c])} in "
                             f"{what} row {r}, column {c}")
    if n_train == 0:
        raise ValueError("pyalgo.energy.standardize: train must have at least one row (the statistics come "
                         "from it), got 0")

    def stats(x):
        if xp_torch:
            return x.mean(dim=0), x.std(dim=0, unbiased=False)
        with np.errstate(over="ignore", invalid="ignore"):
            return x.mean(axis=0), x.std(axis=0)

    def where(c, a, b):
        return torch.where(c, a, torch.full_like(a, b)) if xp_torch else np.where(c, a, b)

    train = arrays[0]
    mean, std = stats(train)
    if bool((torch.isfinite(mean).all() and torch.isfinite(std).all()) if xp_torch
            else (np.isfinite(mean).all() and np.isfinite(std).all())):
        std = where(std > _STD_FLOOR, std, 1.0)
        return [(a - mean) / std for a in arrays]
    scale = train.abs().amax(dim=0) if xp_torch else np.abs(train).max(axis=0)
    scale = where(scale > 0, scale, 1.0)
    scaled = [a / scale for a in arrays]
    mean, std = stats(scaled[0])
    std = where(std * scale > _STD_FLOOR, std, 1.0)
    return [(a - mean) / std for a in scaled]


_standardize = standardize  # load_multilabel's `standardize` argument shadows the helper


# ----------------------------------------------------------------------------------------------------------
# multilabel (ARFF + mulan XML)
# ----------------------------------------------------------------------------------------------------------
@dataclass
class MultilabelData:
    """A multilabel train/test split.

    x_train (N, d) / x_test (M, d): float32 features (standardised with train stats if requested).
    y_train (N, k) / y_test (M, k): float32 in {0, 1}, columns in ARFF attribute order (= ``label_names``).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    feature_names: list
    label_names: list
    name: str

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def num_labels(self) -> int:
        return self.y_train.shape[1]


def _check_arff_rows(text, fn, arg, path):
    """Structural checks scipy does not make: an @data section, and every data row holding exactly one value
    per attribute (scipy silently truncates a row with extra values). Quoted values are not split."""
    import csv

    lines = text.splitlines()
    n_attr, data_line = 0, None
    for i, line in enumerate(lines):
        head = line.strip().lower()
        if head.startswith("@attribute"):
            n_attr += 1
        elif head.startswith("@data"):
            data_line = i
            break
    if data_line is None:
        raise _err(fn, f"{arg} has no @data section (truncated or not an ARFF file): {path}")
    if n_attr == 0:
        raise _err(fn, f"{arg} declares no @attribute before @data: {path}")
    rows = 0
    for i in range(data_line + 1, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith("%"):
            continue
        if line.startswith("{"):
            raise _err(fn, f"{arg} line {i + 1} is a sparse ARFF row; only dense ARFF is supported: {path}")
        values = next(csv.reader([line], quotechar="'", skipinitialspace=True))
        if len(values) != n_attr:
            raise _err(fn, f"{arg} line {i + 1} has {len(values)} values, expected {n_attr} (one per @attribute): "
                           f"{path}")
        rows += 1
    return rows


def _read_arff(path, fn, arg):
    import io

    from scipy.io import arff

    text = _read_text(path, fn, arg)
    rows = _check_arff_rows(text, fn, arg, path)
    try:
        data, meta = arff.loadarff(io.StringIO(text))
    except (ValueError, NotImplementedError, arff.ArffError, StopIteration, IndexError, KeyError,
            TypeError) as e:  # scipy reports bad nominal values, truncated headers etc.
        raise _err(fn, f"{arg} is not a readable dense ARFF file ({path}): {type(e).__name__}: {e}") from e
    if len(data) != rows:
        raise _err(fn, f"{arg} has {rows} data rows but only {len(data)} could be read: {path}")
    return data, meta


def _read_label_xml(path, fn):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise _err(fn, f"labels_xml is not valid XML ({path}): {e}") from e
    names = [el.get("name") for el in root.iter() if el.tag.split("}")[-1] == "label"]
    if not names or any(n is None for n in names):
        raise _err(fn, f"labels_xml must list <label name=\"...\"> elements, got {names!r} in {path}")
    if len(set(names)) != len(names):
        raise _err(fn, f"labels_xml lists a label twice: {names!r}")
    return names


def _trailing_binary_attributes(meta):
    """Names of the trailing attributes whose nominal domain is exactly {0, 1} (labels when no XML is given)."""
    names = meta.names()
    labels = []
    for name in reversed(names):
        kind, domain = meta[name]
        if kind == "nominal" and set(domain) == {"0", "1"}:
            labels.append(name)
        else:
            break
    return labels[::-1]


def _split_arff(data, meta, label_names, fn, arg, path):
    """Structured ARFF array → (features float64 (N, d), labels int64 (N, k), feature names)."""
    names = meta.names()
    label_set = set(label_names)
    feature_names = [n for n in names if n not in label_set]
    for n in feature_names:
        if meta[n][0] != "numeric":
            raise _err(fn, f"{arg} attribute {n!r} is {meta[n][0]}; only numeric features are supported "
                           f"(labels are {label_names!r}) in {path}")
    x = np.empty((len(data), len(feature_names)), dtype=np.float64)
    for j, n in enumerate(feature_names):
        x[:, j] = data[n]
    if np.isnan(x).any():
        raise _err(fn, f"{arg} has missing feature values ('?') in {path}")
    if not np.isfinite(x).all():
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise _err(fn, f"{arg} feature {feature_names[c]!r} (column {c}) is {x[r, c]} in data row {r + 1}; "
                       f"features must be finite: {path}")
    ordered_labels = [n for n in names if n in label_set]  # canonical order = ARFF attribute order
    y = np.empty((len(data), len(ordered_labels)), dtype=np.int64)
    for j, n in enumerate(ordered_labels):
        col = data[n]
        try:
            vals = col.astype(np.float64) if col.dtype.kind != "S" else np.array(
                [float(v) if v != b"?" else np.nan for v in col])
        except ValueError as e:
            raise _err(fn, f"{arg} label {n!r} must take values in {{0, 1}}, got non-numeric values in {path}") from e
        bad = ~np.isin(vals, (0.0, 1.0))
        if bad.any():
            raise _err(fn, f"{arg} label {n!r} must take values in {{0, 1}}, got {vals[bad][0]:g} "
                           f"(row {int(np.argmax(bad))}) in {path}")
        y[:, j] = vals.astype(np.int64)
    return x, y, feature_names, ordered_labels


def load_multilabel(name_or_train_path: PathLike, test_path: PathLike | None = None,
                    labels_xml: PathLike | None = None, standardize: bool = True) -> MultilabelData:
    """Load a multilabel dataset: a bundled name or the path of a user's own dense ARFF train file.

    Labels are selected by name from the XML; without an XML they are the trailing attributes whose
    nominal domain is {0, 1}. Label columns are ordered as in the ARFF header (for yeast the XML order
    differs; the ARFF order Class1..Class14 is used).

    Args:
        name_or_train_path: "yeast", "emotions", "scene" or an ARFF file.
        test_path: optional ARFF test file with the same attributes (None: the test split is empty, 0
            rows; use :func:`kfold_indices`).
        labels_xml: optional mulan label XML.
        standardize: z-score the features with train-split statistics only.

    Returns:
        A `MultilabelData` of float32 tensors.

    Raises:
        TypeError: a path argument of the wrong type.
        ValueError: a missing, unreadable or malformed file.

    Example:
        data = load_multilabel("yeast")      # data.x_train (1500, 103), data.y_train (1500, 14)
    """
    fn = "load_multilabel"
    if standardize not in (True, False):
        raise TypeError(f"pyalgo.energy.{fn}: standardize must be a bool, got {standardize!r}")
    if isinstance(name_or_train_path, str) and name_or_train_path in MULTILABEL:
        if test_path is not None or labels_xml is not None:
            raise _err(fn, f"test_path and labels_xml must be None for the bundled dataset "
                           f"{name_or_train_path!r}, got test_path={test_path!r}, labels_xml={labels_xml!r}")
        name = name_or_train_path
        base = DATASETS_DIR / "multilabel"
        train_path, test_path, labels_xml = base / f"{name}-train.arff", base / f"{name}-test.arff", base / f"{name}.xml"
    else:
        if not isinstance(name_or_train_path, (str, os.PathLike)):
            raise TypeError(f"pyalgo.energy.{fn}: name_or_train_path must be one of {MULTILABEL} or a path, "
                            f"got {type(name_or_train_path).__name__}")
        train_path = Path(name_or_train_path)
        if not train_path.is_file():
            raise _err(fn, f"name_or_train_path must be one of {MULTILABEL} or an existing ARFF file, "
                           f"got {str(name_or_train_path)!r}")
        name = train_path.stem[:-6] if train_path.stem.endswith("-train") else train_path.stem
    for arg, p in (("test_path", test_path), ("labels_xml", labels_xml)):
        if p is not None and not Path(p).is_file():
            raise _err(fn, f"{arg} must be an existing file, got {str(p)!r}")

    data_tr, meta_tr = _read_arff(train_path, fn, "name_or_train_path")
    if labels_xml is not None:
        label_names = _read_label_xml(labels_xml, fn)
        missing = [n for n in label_names if n not in meta_tr.names()]
        if missing:
            raise _err(fn, f"labels_xml names labels absent from the ARFF attributes of {train_path}: {missing!r}")
    else:
        label_names = _trailing_binary_attributes(meta_tr)
        if not label_names:
            raise _err(fn, f"labels_xml is None and {train_path} has no trailing {{0,1}} nominal attributes "
                           f"to use as labels; pass labels_xml")
    if len(label_names) == len(meta_tr.names()):
        raise _err(fn, f"name_or_train_path has no feature attributes besides the labels ({train_path})")
    x_tr, y_tr, feature_names, label_names = _split_arff(data_tr, meta_tr, label_names, fn, "name_or_train_path",
                                                         train_path)
    if x_tr.shape[0] == 0:
        raise _err(fn, f"name_or_train_path has no data rows (the train split is empty): {train_path}")

    if test_path is not None:
        data_te, meta_te = _read_arff(test_path, fn, "test_path")
        if meta_te.names() != meta_tr.names():
            raise _err(fn, f"test_path must have the same attributes as the train file, in the same order; "
                           f"got {len(meta_te.names())} attributes vs {len(meta_tr.names())} ({test_path})")
        x_te, y_te, _, _ = _split_arff(data_te, meta_te, label_names, fn, "test_path", test_path)
    else:
        x_te = np.empty((0, x_tr.shape[1]))
        y_te = np.empty((0, y_tr.shape[1]), dtype=np.int64)

    if standardize:
        x_tr, x_te = _standardize(x_tr, x_te)
    return MultilabelData(
        x_train=torch.from_numpy(x_tr.astype(np.float32)),
        y_train=torch.from_numpy(y_tr.astype(np.float32)),
        x_test=torch.from_numpy(x_te.astype(np.float32)),
        y_test=torch.from_numpy(y_te.astype(np.float32)),
        feature_names=list(feature_names),
        label_names=list(label_names),
        name=name,
    )


# ----------------------------------------------------------------------------------------------------------
# label ranking (scikit-lr CSV)
# ----------------------------------------------------------------------------------------------------------
@dataclass
class RankingData:
    """A label-ranking dataset. x (N, d) float32 as in the file (already scaled); ranks (N, k) int64,
    ranks[i, j] = rank of label j, 1 = most preferred."""

    x: torch.Tensor
    ranks: torch.Tensor
    name: str

    @property
    def perms(self) -> torch.Tensor:
        """y (N, k) int64 = k − ranks: score position of each label, k−1 = most preferred (package convention)."""
        return self.ranks.shape[1] - self.ranks

    @property
    def num_features(self) -> int:
        return self.x.shape[1]

    @property
    def num_labels(self) -> int:
        return self.ranks.shape[1]

    def split(self, train_idx: np.ndarray | Sequence[int] | torch.Tensor,
              test_idx: np.ndarray | Sequence[int] | torch.Tensor) -> RankingSplit:
        """The rows train_idx / test_idx (int arrays, e.g. from :func:`kfold_indices`) as a RankingSplit."""
        tr = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
        te = torch.as_tensor(np.asarray(test_idx), dtype=torch.long)
        y = self.perms
        return RankingSplit(self.x[tr], y[tr], self.x[te], y[te], self.name)


@dataclass
class RankingSplit:
    """One train/test split of a label-ranking dataset; y are permutations (y = k − rank, int64)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str = ""


def load_label_ranking(name_or_path: PathLike) -> RankingData:
    """Load a label-ranking CSV: a bundled name (one of ``LABEL_RANKING``) or a path.

    Format: line 1 ``n_samples,n_features,n_labels``; then n_samples rows of n_features floats
    followed by n_labels integer ranks, each row a permutation of 1..n_labels. Features are returned
    unchanged (the bundled files are already min-max or z-scored).

    Args:
        name_or_path: a bundled name or a CSV file.

    Returns:
        A `RankingData`.

    Raises:
        TypeError: `name_or_path` is neither a name nor a path.
        ValueError: a missing, unreadable or malformed file.

    Example:
        data = load_label_ranking("iris")
        split = data.split(*kfold_indices(len(data.x), folds=10)[0])
    """
    fn = "load_label_ranking"
    if isinstance(name_or_path, str) and name_or_path in LABEL_RANKING:
        path, name = DATASETS_DIR / "label_ranking" / f"{name_or_path}.csv", name_or_path
    else:
        if not isinstance(name_or_path, (str, os.PathLike)):
            raise TypeError(f"pyalgo.energy.{fn}: name_or_path must be one of {LABEL_RANKING} or a path, "
                            f"got {type(name_or_path).__name__}")
        path = Path(name_or_path)
        if not path.is_file():
            raise _err(fn, f"name_or_path must be one of {LABEL_RANKING} or an existing CSV file, "
                           f"got {str(name_or_path)!r}")
        name = path.stem
    import io

    text = _read_text(path, fn, "name_or_path")
    header = text.split("\n", 1)[0].strip()
    try:
        n_samples, n_features, n_labels = (int(v) for v in header.split(","))
    except ValueError as e:
        raise _err(fn, f"name_or_path first line must be 'n_samples,n_features,n_labels' (three integers), "
                       f"got {header[:80]!r} in {path}") from e
    if n_samples < 0 or n_features < 0 or n_labels < 1:
        raise _err(fn, f"name_or_path header counts must be n_samples >= 0, n_features >= 0, n_labels >= 1, "
                       f"got {header!r} in {path}")
    try:
        import warnings

        with warnings.catch_warnings():  # an empty table (n_samples = 0) is checked below
            warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
            table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise _err(fn, f"name_or_path rows must be comma-separated numbers ({path}): {e}") from e
    if n_samples == 0:
        table = table.reshape(0, n_features + n_labels)
    if table.shape != (n_samples, n_features + n_labels):
        raise _err(fn, f"name_or_path header says {n_samples} rows of {n_features} features + {n_labels} ranks, "
                       f"got a table of shape {table.shape} in {path}")
    x, r = table[:, :n_features], table[:, n_features:]
    if not np.isfinite(table).all():
        raise _err(fn, f"name_or_path must contain only finite numbers, got nan/inf in {path}")
    if (r != np.round(r)).any():
        raise _err(fn, f"name_or_path ranks must be integers, got non-integer ranks in {path}")
    ranks = r.astype(np.int64)
    bad = ~(np.sort(ranks, axis=1) == np.arange(1, n_labels + 1)).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise _err(fn, f"name_or_path rank rows must be permutations of 1..{n_labels}, got {ranks[i].tolist()} "
                       f"in data row {i + 1} of {path}")
    return RankingData(x=torch.from_numpy(x.astype(np.float32)), ranks=torch.from_numpy(ranks), name=name)


# ----------------------------------------------------------------------------------------------------------
# k-fold splits
# ----------------------------------------------------------------------------------------------------------
def kfold_indices(n: int, folds: int = 10, seed: int = 0) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Seeded k-fold CV splits.

    A permutation of range(n) from ``np.random.default_rng(seed)`` is cut into ``folds`` nearly equal
    parts (np.array_split); the test folds are disjoint and cover range(n); train = complement.

    Args:
        n: the number of rows >= 1.
        folds: 2 <= folds <= n.
        seed: the permutation's seed.

    Returns:
        ``folds`` pairs (train_idx, test_idx), int64 numpy arrays, each sorted.

    Raises:
        ValueError: invalid `n`, `folds` or `seed`.

    Example:
        for train_idx, test_idx in kfold_indices(150, folds=10, seed=0): ...
    """
    fn = "kfold_indices"
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise _err(fn, f"n must be an int >= 1, got {n!r}")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or not 2 <= folds <= n:
        raise _err(fn, f"folds must be an int with 2 <= folds <= n = {n}, got {folds!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise _err(fn, f"seed must be an int, got {seed!r}")
    order = np.random.default_rng(seed).permutation(int(n))
    splits = []
    for test in np.array_split(order, int(folds)):
        in_test = np.zeros(int(n), dtype=bool)
        in_test[test] = True
        splits.append((np.flatnonzero(~in_test).astype(np.int64), np.sort(test).astype(np.int64)))
    return splits


# ----------------------------------------------------------------------------------------------------------
# synthetic ground-truth Ising EBM
# ----------------------------------------------------------------------------------------------------------
@dataclass
class SyntheticIsing:
    """Samples from a known conditional Ising EBM.

    p(y | x) ∝ exp(g(x, y)), g = ⟨u(x), y⟩ + ½ yᵀ U(x) y, y ∈ {0,1}^k, with linear maps
    u(x) = x @ unary_weight (d,k) → (N,k) and U(x) = einsum("nd,dij->nij", x, pairwise_weight) → (N,k,k),
    symmetric with zero diagonal. x_* (N, d), y_* (N, k) {0,1}, all in ``dtype``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    unary_weight: torch.Tensor
    pairwise_weight: torch.Tensor
    seed: int = 0
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return self.unary_weight.shape[1]

    def true_parameters(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(unary (N,k), pairwise (N,k,k)) of the ground-truth EBM at x (N,d); feed to reference.exact_lse_bits."""
        x = x.to(self.unary_weight.dtype)
        return x @ self.unary_weight, torch.einsum("nd,dij->nij", x, self.pairwise_weight)


MAX_EXACT_ISING = 16      # synthetic_ising samples exactly (enumerating 2^k states) up to this k
MAX_ISING_LABELS = 128    # and by Gibbs sampling (approximate) up to this k


def synthetic_ising(num_train: int, num_test: int, k: int = 8, d: int = 20, seed: int = 0,
                    dtype: torch.dtype = torch.float64, *, unary_scale: float = 2.0,
                    pairwise_scale: float = 1.0, gibbs_sweeps: int = 200) -> SyntheticIsing:
    """Samples from a random ground-truth Ising EBM (the toy of docs/energy.md): exact for k ≤ 16.

    Generator (one torch.Generator seeded with ``seed``; draws in this order):
      unary_weight (d,k) ~ N(0, unary_scale²/d), so u_j(x) ~ N(0, unary_scale²) for x ~ N(0, I_d);
      pairwise_weight (d,k,k) = (A + Aᵀ)/√2 with A ~ N(0, pairwise_scale²/d), diagonal zeroed, so the
      off-diagonal U_ij(x) ~ N(0, pairwise_scale²);
      x_train ~ N(0, I_d), then y_train, then x_test, then y_test, with y ~ p(y|x) ∝ exp(⟨u,y⟩ + ½yᵀUy)
      drawn exactly by enumerating all 2^k states (torch.multinomial) for k ≤ 16 (k ≤ 12: energies per row
      chunk; 13 ≤ k ≤ 16: g = x @ F with the per-state features F (d, 2^k) computed once, rows in chunks).
      For 16 < k ≤ 128 the states cannot be enumerated: y is the state after `gibbs_sweeps` systematic Gibbs
      sweeps (pyalgo.energy.mcmc.gibbs_bits) started from y_i ~ Bernoulli(σ(u_i)) — APPROXIMATE samples
      (meta["sampler"] = "gibbs"; the chains mix fast for the default scales, but nothing certifies it).
      With the defaults (k=8, d=20) std over x of the exact LSE is a few nats and p(y|x) is neither uniform
      nor deterministic.

    Args:
        num_train: training rows >= 0.
        num_test: test rows >= 0.
        k: labels, 1 <= k <= 128 (exact sampling for k <= 16, Gibbs beyond).
        d: features >= 1.
        seed: the generator's seed.
        dtype: float32 or float64.
        unary_scale: std of the unary energies, finite and >= 0.
        pairwise_scale: std of the off-diagonal pairwise energies, finite and >= 0.
        gibbs_sweeps: Gibbs sweeps per sample when k > 16, an int >= 1 (unused for k <= 16).

    Returns:
        A `SyntheticIsing` (data and the true weights).

    Raises:
        ValueError: an invalid argument.

    Example:
        toy = synthetic_ising(1000, 500, k=8, d=20, seed=0)
        u, U = toy.true_parameters(toy.x_test)
    """
    fn = "synthetic_ising"
    for arg, v, lo in (("num_train", num_train, 0), ("num_test", num_test, 0), ("k", k, 1), ("d", d, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise _err(fn, f"{arg} must be an int >= {lo}, got {v!r}")
    if k > MAX_ISING_LABELS:
        raise _err(fn, f"k must be <= {MAX_ISING_LABELS} (exact enumeration of 2^k states up to k = "
                       f"{MAX_EXACT_ISING}, Gibbs sampling beyond), got {k}")
    if isinstance(gibbs_sweeps, bool) or not isinstance(gibbs_sweeps, int) or gibbs_sweeps < 1:
        raise _err(fn, f"gibbs_sweeps must be an int >= 1, got {gibbs_sweeps!r}")
    if dtype not in (torch.float32, torch.float64):
        raise _err(fn, f"dtype must be torch.float32 or torch.float64, got {dtype}")
    for arg, v in (("unary_scale", unary_scale), ("pairwise_scale", pairwise_scale)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise _err(fn, f"{arg} must be a finite number >= 0, got {v!r}")

    gen = torch.Generator().manual_seed(int(seed))
    f64 = torch.float64
    unary_weight = torch.randn(d, k, generator=gen, dtype=f64) * (unary_scale / math.sqrt(d))
    a = torch.randn(d, k, k, generator=gen, dtype=f64) * (pairwise_scale / math.sqrt(d))
    pairwise_weight = (a + a.transpose(1, 2)) / math.sqrt(2.0)
    pairwise_weight = pairwise_weight * (1.0 - torch.eye(k, dtype=f64))
    if k > 12:
        sample = _ising_sampler_large(k, unary_weight, pairwise_weight, gen, gibbs_sweeps)
    else:
        sample = _ising_sampler_small(k, unary_weight, pairwise_weight, gen)

    x_train = torch.randn(num_train, d, generator=gen, dtype=f64)
    y_train = sample(x_train)
    x_test = torch.randn(num_test, d, generator=gen, dtype=f64)  # after the train draws: train data does not
    y_test = sample(x_test)                                        # depend on num_test
    return SyntheticIsing(
        x_train=x_train.to(dtype), y_train=y_train.to(dtype), x_test=x_test.to(dtype), y_test=y_test.to(dtype),
        unary_weight=unary_weight.to(dtype), pairwise_weight=pairwise_weight.to(dtype), seed=int(seed),
        meta={"k": k, "d": d, "unary_scale": unary_scale, "pairwise_scale": pairwise_scale,
              **({"sampler": "gibbs", "gibbs_sweeps": gibbs_sweeps} if k > MAX_EXACT_ISING else {})},
    )


def _ising_sampler_small(k, unary_weight, pairwise_weight, gen):
    """Exact sampling by enumeration, energies per row chunk (k <= 12: the original draws, bit for bit)."""
    from .reference import all_bits, energy_bits

    f64 = torch.float64
    states = all_bits(k).to(f64)  # (2^k, k)

    def sample(x):
        y = torch.empty(x.shape[0], k, dtype=f64)
        chunk = max(1, (1 << 22) // (states.shape[0] * k))
        for s in range(0, x.shape[0], chunk):
            xs = x[s:s + chunk]
            u = xs @ unary_weight
            pw = torch.einsum("nd,dij->nij", xs, pairwise_weight)
            g = energy_bits(u, states.expand(xs.shape[0], -1, -1), pw)  # (n, 2^k)
            idx = torch.multinomial(torch.softmax(g, dim=1), 1, generator=gen).squeeze(1)
            y[s:s + chunk] = states[idx]
        return y
    return sample


def _ising_sampler_large(k, unary_weight, pairwise_weight, gen, sweeps):
    """13 <= k <= 16: exact, g(x, y_s) = x · F[:, s] with F (d, 2^k) the per-state features (the energy is
    linear in x), rows in chunks of <= 32 MiB of energies. k > 16: Gibbs (approximate)."""
    f64 = torch.float64
    if k > MAX_EXACT_ISING:
        from .mcmc import gibbs_bits

        def gibbs(x):
            u = x @ unary_weight
            pw = torch.einsum("nd,dij->nij", x, pairwise_weight)
            init = (torch.rand(x.shape[0], 1, k, generator=gen, dtype=f64) < torch.sigmoid(u)[:, None]).to(f64)
            return gibbs_bits(u, pw, init, sweeps, gen)[:, 0]
        return gibbs

    d = unary_weight.shape[0]
    feats = torch.empty(d, 1 << k, dtype=f64)
    step = 1 << 12
    for s0 in range(0, 1 << k, step):
        st = _bit_states(k, s0, step)
        feats[:, s0:s0 + st.shape[0]] = (st @ unary_weight.T).T + 0.5 * torch.einsum("ci,dij,cj->dc", st,
                                                                                      pairwise_weight, st)

    def sample(x):
        y = torch.empty(x.shape[0], k, dtype=f64)
        chunk = max(1, (1 << 22) // (1 << k))
        for s in range(0, x.shape[0], chunk):
            g = x[s:s + chunk] @ feats                                   # (n, 2^k)
            idx = torch.multinomial(torch.softmax(g, dim=1), 1, generator=gen).squeeze(1)
            y[s:s + chunk] = _bit_states_at(k, idx)
        return y
    return sample


def _bit_states(k: int, start: int, count: int) -> torch.Tensor:
    """States start .. start+count−1 of reference.all_bits(k) (row r: bit i = (r >> i) & 1)."""
    return _bit_states_at(k, torch.arange(start, min(start + count, 1 << k)))


def _bit_states_at(k: int, idx: torch.Tensor) -> torch.Tensor:
    shifts = torch.arange(k)
    return ((idx[:, None] >> shifts) & 1).to(torch.float64)


# ----------------------------------------------------------------------------------------------------------
# synthetic ground-truth Plackett–Luce label ranking
# ----------------------------------------------------------------------------------------------------------
PL_DEFAULT_SCALE = 2.0   # std of the true scores: the true model's own Kendall τ ×100 ≈ 65.5 at any k (see below)
MAX_PL_LABELS = 256      # the ranking kernels' item limit (pyalgo.energy.ops.MAX_ITEMS)


@dataclass
class SyntheticPlackettLuce:
    """Label-ranking data from a known conditional Plackett–Luce model (a `RankingSplit`-like object).

    θ*(x) = x @ weight (d, k) → (N, k); y ~ PL(θ*(x)), y int64 (N, k) in the package's position convention
    (y[i] = score position of item i, k − 1 = most preferred). x_* (N, d) in ``dtype``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    weight: torch.Tensor
    seed: int = 0
    name: str = "synthetic_pl"
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return self.weight.shape[1]

    def true_parameters(self, x: torch.Tensor) -> torch.Tensor:
        """The true Plackett–Luce scores θ*(x) = x @ weight, (N, k)."""
        return x.to(self.weight.dtype) @ self.weight

    def true_predictions(self, x: torch.Tensor) -> torch.Tensor:
        """The mode of PL(θ*(x)) (= argsort of θ*: the Bayes-optimal ranking), int64 (N, k) positions."""
        return _positions(self.true_parameters(x))


def _positions(keys: torch.Tensor) -> torch.Tensor:
    """y[i] = position of item i when sorting `keys` ascending (k − 1 = largest key = most preferred)."""
    return torch.argsort(torch.argsort(keys, dim=1, stable=True), dim=1)


def synthetic_plackett_luce(num_train: int, num_test: int, k: int = 8, d: int = 20, seed: int = 0,
                            dtype: torch.dtype = torch.float32, *,
                            scale: float = PL_DEFAULT_SCALE) -> SyntheticPlackettLuce:
    """Exact samples from a random ground-truth conditional Plackett–Luce model.

    Generator (one torch.Generator seeded with ``seed``; draws in this order):
      weight (d, k) ~ N(0, scale²/d), so θ*_i(x) ~ N(0, scale²) for x ~ N(0, I_d);
      x_train ~ N(0, I_d), then the Gumbel noise of y_train, then x_test, then that of y_test;
      y = positions of θ*(x) + Gumbel (argsort: exact PL sampling, most preferred = largest key = k − 1).

    The default scale: under PL, P(i before j) = σ(θ*_i − θ*_j) exactly, so the Kendall τ of the true
    mode against a sample is E tanh(|Δ|/2), Δ ~ N(0, 2 scale²) whatever k: ≈ 45 (scale 1), 65.5 (2), 75.5 (3)
    ×100. scale = 2 puts the best achievable test Kendall τ in a learnable middle.

    Args:
        num_train: training rows >= 0.
        num_test: test rows >= 0 (the training data does not depend on it).
        k: labels, 2 <= k <= 256 (nothing is enumerated).
        d: features >= 1.
        seed: the generator's seed.
        dtype: float32 or float64 (of x and weight; y is int64).
        scale: std of the true scores, finite and > 0.

    Returns:
        A `SyntheticPlackettLuce` (data and the true weight); pass it to `pyalgo.lab.energy.train_ranking`.

    Raises:
        ValueError: an invalid argument.

    Example:
        pl = synthetic_plackett_luce(2000, 1000, k=11, seed=0)
        best = pl.true_predictions(pl.x_test)     # the Bayes-optimal rankings
    """
    fn = "synthetic_plackett_luce"
    for arg, v, lo in (("num_train", num_train, 0), ("num_test", num_test, 0), ("k", k, 2), ("d", d, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise _err(fn, f"{arg} must be an int >= {lo}, got {v!r}")
    if k > MAX_PL_LABELS:
        raise _err(fn, f"k must be <= {MAX_PL_LABELS} (the ranking kernels' item limit), got {k}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _err(fn, f"seed must be an int, got {seed!r}")
    if dtype not in (torch.float32, torch.float64):
        raise _err(fn, f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if isinstance(scale, bool) or not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise _err(fn, f"scale must be a finite number > 0, got {scale!r}")

    gen = torch.Generator().manual_seed(int(seed))
    f64 = torch.float64
    weight = torch.randn(d, k, generator=gen, dtype=f64) * (scale / math.sqrt(d))

    def sample(x):
        u = torch.rand(x.shape[0], k, generator=gen, dtype=f64)
        gumbel = -torch.log(-torch.log(u.clamp_min(1e-300)))
        return _positions(x @ weight + gumbel)

    x_train = torch.randn(num_train, d, generator=gen, dtype=f64)
    y_train = sample(x_train)
    x_test = torch.randn(num_test, d, generator=gen, dtype=f64)   # after the train draws: train data does not
    y_test = sample(x_test)                                         # depend on num_test
    return SyntheticPlackettLuce(x_train=x_train.to(dtype), y_train=y_train, x_test=x_test.to(dtype), y_test=y_test,
                                 weight=weight.to(dtype), seed=int(seed),
                                 meta={"k": k, "d": d, "scale": float(scale)})

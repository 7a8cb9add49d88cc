"""Data loaders for the min-min EBM experiments (docs/energy.md, "Data").

Everything is read from the copies bundled in ``pyalgo/energy/datasets/`` (see the README there for the
attribution); nothing is downloaded at run time. A user's own files load through the same functions by path.

- Multilabel: mulan/MEKA ARFF (dense or sparse; our own parser) train/test files, labels from a label XML,
  ``labels=N`` (the last N attributes) or a MEKA ``-C N`` header → :class:`MultilabelData`, features
  standardised with train-split statistics, labels float {0,1} in ARFF attribute order;
  :meth:`MultilabelData.split` cuts a file without a test file into train/test rows.
- Label ranking: CSV with the scikit-lr header ``n_samples,n_features,n_labels``, a header of column names,
  or no header → :class:`RankingData`, ``ranks`` (1 = most preferred) and ``perms`` = k − ranks (the package
  convention's ``y``); :meth:`RankingData.split` gives a :class:`RankingSplit` (train/test rows).
- :func:`kfold_indices`, :func:`holdout_indices`: seeded k-fold / hold-out splits (the label-ranking files
  and some multilabel sets have no train/test split).
- :func:`synthetic_ising`: exact samples from a ground-truth Ising EBM with known parameters (the toy
  on which a learned τ can be compared with the exact log-partition).
- :func:`synthetic_plackett_luce`: exact label-ranking samples from a ground-truth Plackett–Luce model
  with linear scores, any number of labels (learning quality measurable against the truth at any k).
"""
from __future__ import annotations

import difflib
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

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
    "holdout_indices",
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

    def split(self, train_idx: np.ndarray | Sequence[int] | torch.Tensor,
              test_idx: np.ndarray | Sequence[int] | torch.Tensor, standardize: bool = True) -> "MultilabelData":
        """The rows ``train_idx`` / ``test_idx`` of ``x_train``/``y_train`` (a file loaded without a test file,
        e.g. from :func:`holdout_indices` or :func:`kfold_indices`) as a new train/test split, its features
        z-scored with the statistics of its own train rows when ``standardize`` (load with
        ``standardize=False``; z-scoring is affine-invariant, so an already standardised set gives the same
        result up to rounding)."""
        tr = torch.as_tensor(np.asarray(train_idx), dtype=torch.long)
        te = torch.as_tensor(np.asarray(test_idx), dtype=torch.long)
        x_tr, x_te = self.x_train[tr], self.x_train[te]
        if standardize:
            x_tr, x_te = (z.float() for z in _standardize(x_tr.double(), x_te.double()))
        return MultilabelData(x_tr, self.y_train[tr], x_te, self.y_train[te], list(self.feature_names),
                              list(self.label_names), self.name)


@dataclass
class _Attr:
    name: str
    kind: str              # "numeric" | "nominal"
    values: tuple          # the nominal domain (in file order); () for numeric
    line: int              # 1-based line of the @attribute declaration


@dataclass
class _Arff:
    relation: str
    attrs: List[_Attr]
    codes: np.ndarray      # (N, A) float64: numeric values; nominal = index in the domain; missing ('?') = nan
    lines: np.ndarray      # (N,) int64: the 1-based file line of each data row
    path: Any


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _split_raw(s: str, where) -> List[str]:
    """`s` split on the commas outside '…' / "…" quotes (a backslash escapes the next character inside
    quotes); the fields keep their quotes and surrounding spaces. `where()` gives the error prefix."""
    out, buf, quote, i, n = [], [], None, 0, len(s)
    while i < n:
        c = s[i]
        if quote is not None:
            buf.append(c)
            if c == "\\" and i + 1 < n:
                buf.append(s[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c == ",":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    if quote is not None:
        raise ValueError(f"{where()}: unterminated {quote}-quoted value in {s[:80]!r}")
    out.append("".join(buf))
    return out


def _unquote(tok: str, where) -> str:
    """A field without its spaces and its quotes ('…' or "…", backslash escapes resolved)."""
    tok = tok.strip()
    if tok[:1] in ("'", '"'):
        q = tok[0]
        out, i, n = [], 1, len(tok)
        while i < n and tok[i] != q:
            if tok[i] == "\\" and i + 1 < n:
                out.append(_ESCAPES.get(tok[i + 1], tok[i + 1]))
                i += 2
            else:
                out.append(tok[i])
                i += 1
        if i >= n:
            raise ValueError(f"{where()}: unterminated {q}-quoted value {tok[:80]!r}")
        if tok[i + 1:].strip():
            raise ValueError(f"{where()}: text {tok[i + 1:].strip()[:40]!r} after the closing quote of {tok[:i + 1]!r}")
        return "".join(out)
    return tok


def _parse_attribute(rest: str, where) -> Tuple[str, str, tuple]:
    """(name, kind, domain) of the text after `@attribute`."""
    rest = rest.strip()
    if not rest:
        raise ValueError(f"{where()}: @attribute without a name")
    if rest[0] in "'\"":
        q, i = rest[0], 1
        while i < len(rest) and rest[i] != q:
            i += 2 if rest[i] == "\\" else 1
        if i >= len(rest):
            raise ValueError(f"{where()}: unterminated {q}-quoted attribute name in {rest[:80]!r}")
        name, kind = _unquote(rest[:i + 1], where), rest[i + 1:].strip()
    else:
        m = re.match(r"[^\s{]+", rest)
        name, kind = m.group(0), rest[m.end():].strip()
    if not kind:
        raise ValueError(f"{where()}: attribute {name!r} has no type")
    if kind[0] == "{":
        if not kind.endswith("}"):
            raise ValueError(f"{where()}: attribute {name!r}: unterminated nominal domain {kind[:80]!r} (no closing '}}')")
        domain = tuple(_unquote(v, where) for v in _split_raw(kind[1:-1], where))
        if domain == ("",):
            raise ValueError(f"{where()}: attribute {name!r} has an empty nominal domain {{}}")
        if len(set(domain)) != len(domain):
            raise ValueError(f"{where()}: attribute {name!r} lists a nominal value twice: {kind[:80]}")
        return name, "nominal", domain
    word = re.match(r"[A-Za-z]*", kind).group(0).lower()
    if word in ("numeric", "real", "integer"):
        return name, "numeric", ()
    if word in ("string", "date", "relational"):
        raise ValueError(f"{where()}: attribute {name!r} has type {word}; only numeric/real/integer and nominal "
                         f"{{…}} attributes are supported")
    raise ValueError(f"{where()}: attribute {name!r} has an unknown type {kind.split()[0][:40]!r} (expected numeric, "
                     f"real, integer or a nominal domain {{a,b,…}})")



def _fast_dense_codes(tokens: List[str], n: int, attrs: List[_Attr]) -> Optional[np.ndarray]:
    """The (n, A) codes of dense rows when every value is a number and every nominal domain holds numbers
    (e.g. {0,1} labels): one float() pass, ~5x faster than numpy's string casts. None → the general path
    (which also finds and reports a bad value)."""
    try:
        vals = np.fromiter(map(float, tokens), np.float64, len(tokens)).reshape(n, len(attrs))
    except ValueError:
        return None
    if np.isnan(vals).any():       # a literal 'nan': let the general path treat it
        return None
    for j, a in enumerate(attrs):
        if a.kind != "nominal":
            continue
        try:
            dom = np.array([float(v) for v in a.values])
        except ValueError:
            return None
        order = np.argsort(dom)
        pos = np.clip(np.searchsorted(dom[order], vals[:, j]), 0, len(dom) - 1)
        if not (dom[order][pos] == vals[:, j]).all() or len(np.unique(dom)) != len(dom):
            return None
        vals[:, j] = order[pos]
    return vals



def _fast_sparse(sparse: List[str], first_row: int, A: int):
    """(rows, cols, value strings) of sparse rows with no quotes, in a few vectorised passes; None when any row
    has quotes or anything unusual (the per-pair path then parses them and names the bad line)."""
    if not sparse or any(("'" in s or '"' in s or not s.endswith("}")) for s in sparse):
        return None
    inners = [s[1:-1] for s in sparse]
    keep = [i for i, s in enumerate(inners) if s.strip()]
    counts = np.fromiter((inners[i].count(",") + 1 for i in keep), np.int64, len(keep))
    pairs = ",".join(inners[i] for i in keep).split(",") if keep else []
    parts = " ".join(pairs).split()
    if len(parts) != 2 * len(pairs):
        return None
    try:
        cols = np.fromiter(map(int, parts[0::2]), np.int64, len(pairs))
    except ValueError:
        return None
    rows = np.repeat(np.asarray(keep, dtype=np.int64) + first_row, counts)
    if len(cols) and (cols.min() < 0 or cols.max() >= A):
        return None
    keys = rows * A + cols  # a repeated index in a row: increasing indices (the usual layout) need no sort
    if len(keys) > 1 and not (np.diff(keys) > 0).all() and (np.diff(np.sort(keys)) == 0).any():
        return None
    return rows, cols, parts[1::2]


def _parse_arff(path, fn: str, arg: str) -> _Arff:
    """Our own ARFF reader (dense and sparse rows, quoted names/values with backslash escapes, any-case
    keywords, % comments, CRLF). Every problem is a ValueError naming `fn`, `arg`, the file and the line."""
    text = _read_text(path, fn, arg)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]

    def at(i):
        return lambda: f"pyalgo.energy.{fn}: {arg} {path}, line {i + 1}"

    relation, attrs, seen, data_line = "", [], {}, None
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line[0] == "%":
            continue
        head = line[:10].lower()
        if head.startswith("@relation"):
            relation = line[9:].strip()
        elif head.startswith("@attribute") and (len(line) == 10 or line[10] in " \t"):
            name, kind, domain = _parse_attribute(line[10:], at(i))
            if name in seen:
                raise ValueError(f"{at(i)()}: duplicated attribute {name!r} (first declared on line {seen[name]})")
            seen[name] = i + 1
            attrs.append(_Attr(name, kind, domain, i + 1))
        elif head.startswith("@data"):
            data_line = i
            break
        elif head.startswith("@end"):
            continue
        else:
            raise ValueError(f"{at(i)()}: expected @relation, @attribute or @data in the header, got {line[:60]!r}")
    if data_line is None:
        raise _err(fn, f"{arg} has no @data section (truncated or not an ARFF file): {path}")
    if not attrs:
        raise _err(fn, f"{arg} declares no @attribute before @data: {path}")
    A = len(attrs)
    nominal = [j for j, a in enumerate(attrs) if a.kind == "nominal"]
    index = [{v: float(c) for c, v in enumerate(a.values)} if a.kind == "nominal" else None for a in attrs]

    fast, fast_lines, slow, slow_lines, sparse, sparse_lines = [], [], [], [], [], []
    for i in range(data_line + 1, len(lines)):
        line = lines[i].strip()
        if not line or line[0] == "%":
            continue
        if line[0] == "{":
            sparse.append(line)
            sparse_lines.append(i + 1)
        elif "'" in line or '"' in line or " " in line or "\t" in line:
            slow.append(line)
            slow_lines.append(i + 1)
        else:
            fast.append(line)
            fast_lines.append(i + 1)
    n_rows = len(fast) + len(slow) + len(sparse)
    if n_rows == 0:
        raise _err(fn, f"{arg} has no data rows after @data (line {data_line + 1}): {path}")

    # dense rows → a (n, A) array of value strings
    counts = np.fromiter((s.count(",") for s in fast), dtype=np.int64, count=len(fast))
    bad = np.flatnonzero(counts != A - 1)
    if bad.size:
        b = int(bad[0])
        raise _err(fn, f"{arg} line {fast_lines[b]} has {counts[b] + 1} values, expected {A} (one per @attribute): "
                       f"{path}")
    tokens = ",".join(fast).split(",") if fast else []
    for line, ln in zip(slow, slow_lines):
        where = at(ln - 1)
        fields = [_unquote(f, where) for f in _split_raw(line, where)]
        if len(fields) != A:
            raise _err(fn, f"{arg} line {ln} has {len(fields)} values, expected {A} (one per @attribute): {path}")
        tokens.extend(fields)
    dense_lines = np.asarray(fast_lines + slow_lines, dtype=np.int64)
    codes = np.zeros((n_rows, A), dtype=np.float64)  # sparse rows: omitted = 0 (numeric) / the first value (nominal)
    numeric = np.asarray([a.kind == "numeric" for a in attrs])

    def bad_value(j, value, ln):
        a = attrs[j]
        if a.kind == "numeric":
            return ValueError(f"{at(ln - 1)()}: attribute {a.name!r} (numeric) has the value {value[:40]!r}, "
                              "which is not a number")
        dom = "{" + ",".join(a.values) + "}"
        return ValueError(f"{at(ln - 1)()}: attribute {a.name!r} has the value {value[:40]!r}, not in its "
                          f"nominal domain {dom[:80]}")

    fast_codes = _fast_dense_codes(tokens, len(dense_lines), attrs) if len(dense_lines) else None
    if fast_codes is not None:
        codes[:len(dense_lines)] = fast_codes
    elif len(dense_lines):
        strings = np.asarray(tokens, dtype=str).reshape(len(dense_lines), A)
        num = strings[:, numeric]
        num = np.where(num == "?", "nan", num)
        try:
            codes[:len(dense_lines), numeric] = num.astype(np.float64)
        except ValueError:
            for r in np.argsort(dense_lines):    # find the first bad cell in file order
                for c, j in enumerate(np.flatnonzero(numeric)):
                    try:
                        float(num[r, c])
                    except ValueError:
                        raise bad_value(j, strings[r, j], int(dense_lines[r])) from None
        for j in nominal:
            uniq, inv = np.unique(strings[:, j], return_inverse=True)
            lut = np.empty(len(uniq))
            for u, v in enumerate(uniq):
                code = index[j].get(str(v), np.nan if v == "?" else None)
                if code is None:
                    rs = np.flatnonzero(inv.reshape(-1) == u)
                    raise bad_value(j, str(v), int(dense_lines[rs].min()))
                lut[u] = code
            codes[:len(dense_lines), j] = lut[inv.reshape(-1)]

    # sparse rows: {index value, …}
    fast_sparse = _fast_sparse(sparse, len(dense_lines), A)
    rows, cols, vals = fast_sparse if fast_sparse is not None else ([], [], [])
    for s, (line, ln) in enumerate(zip(sparse, sparse_lines) if fast_sparse is None else ()):
        where = at(ln - 1)
        if not line.endswith("}"):
            raise ValueError(f"{where()}: sparse row without its closing '}}' (truncated?): {line[-40:]!r}")
        inner = line[1:-1]
        if not inner.strip():
            continue
        fields = _split_raw(inner, where) if ("'" in inner or '"' in inner) else inner.split(",")
        r = len(dense_lines) + s
        seen_cols = set()
        for f in fields:
            parts = f.strip().split(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{where()}: truncated sparse pair {f.strip()[:40]!r} (expected 'index value')")
            try:
                j = int(parts[0])
            except ValueError:
                raise ValueError(f"{where()}: sparse index {parts[0][:40]!r} is not an integer") from None
            if not 0 <= j < A:
                raise ValueError(f"{where()}: sparse index {j} out of range [0, {A - 1}] ({A} attributes)")
            if j in seen_cols:
                raise ValueError(f"{where()}: sparse index {j} appears twice in the row")
            seen_cols.add(j)
            rows.append(r)
            cols.append(j)
            vals.append(_unquote(parts[1], where) if parts[1][:1] in "'\"" else parts[1].strip())
    sparse_row_lines = np.asarray(sparse_lines, dtype=np.int64)
    all_lines = np.concatenate([dense_lines, sparse_row_lines])
    if len(rows):
        rows_a, cols_a = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        rows, cols = rows_a, cols_a
        out = np.empty(len(vals))
        todo = range(len(vals))
        try:  # fast: every value a number; numeric attributes and domains {0,1,…,V-1} need no lookup
            fv = np.fromiter(map(float, vals), np.float64, len(vals))
        except ValueError:
            fv = None
        if fv is not None and not np.isnan(fv).any():
            size = np.array([len(a.values) if a.kind == "nominal" and all(
                v == str(c) for c, v in enumerate(a.values)) else 0 for a in attrs])
            easy = numeric[cols_a] | ((size[cols_a] > 0) & (fv == np.round(fv)) & (fv >= 0) & (fv < size[cols_a]))
            out[easy] = fv[easy]
            todo = np.flatnonzero(~easy).tolist()
        for k in todo:
            j, v = int(cols[k]), vals[k]
            if numeric[j]:
                try:
                    out[k] = np.nan if v == "?" else float(v)
                except ValueError:
                    raise bad_value(j, v, int(all_lines[rows[k]])) from None
            else:
                code = index[j].get(v, np.nan if v == "?" else None)
                if code is None:
                    raise bad_value(j, v, int(all_lines[rows[k]]))
                out[k] = code
        codes[rows_a, cols_a] = out
    # rows back in file order (dense and sparse rows may be mixed)
    order = np.argsort(all_lines, kind="stable")
    if not np.array_equal(order, np.arange(n_rows)):
        codes, all_lines = codes[order], all_lines[order]
    return _Arff(relation, attrs, codes, all_lines, path)


def _read_label_xml(path, fn):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise _err(fn, f"labels_xml is not valid XML ({path}): {e}") from e
    names = [el.get("name") for el in root.iter() if isinstance(el.tag, str) and el.tag.split("}")[-1] == "label"]
    if not names or any(n is None for n in names):
        raise _err(fn, f"labels_xml must list <label name=\"...\"> elements, got {names!r} in {path}")
    if len(set(names)) != len(names):
        raise _err(fn, f"labels_xml lists a label twice: {names!r} ({path})")
    return names


def _meka_labels(relation: str) -> Optional[int]:
    """N of a MEKA ``-C N`` option in the @relation name (N > 0: the first N attributes are the labels;
    N < 0: the last −N), or None."""
    m = re.search(r"(?:^|[\s:'\"])-C\s+(-?\d+)", relation)
    return int(m.group(1)) if m else None


def _trailing_binary_attributes(attrs: List[_Attr]) -> List[str]:
    """Names of the trailing attributes whose nominal domain is exactly {0, 1} (labels when nothing else says)."""
    labels = []
    for a in reversed(attrs):
        if a.kind == "nominal" and set(a.values) == {"0", "1"}:
            labels.append(a.name)
        else:
            break
    return labels[::-1]


def _beside(path: Path, suffix: str) -> Path:
    """``<stem>.<suffix>`` next to `path`, with a trailing ``-train`` / ``-test`` removed from the stem."""
    stem = path.name[:-len(path.suffix)] if path.suffix else path.name
    for tail in ("-train", "-test"):
        if stem.endswith(tail):
            stem = stem[:-len(tail)]
    return path.with_name(stem + suffix)


def _choose_labels(arff: _Arff, labels, fn: str) -> Tuple[List[str], str]:
    """(label names, how they were chosen) for `labels` = int N | XML path | None."""
    names = [a.name for a in arff.attrs]
    A = len(names)
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        if not 1 <= labels < A:
            raise _err(fn, f"labels must be an int N with 1 <= N < {A} (the number of attributes of "
                           f"{arff.path}: labels = the last N), got {labels}")
        return names[A - int(labels):], f"the last {int(labels)} attributes (labels={int(labels)})"
    if labels is not None:
        xml = Path(labels)
        wanted = _read_label_xml(xml, fn)
        missing = [n for n in wanted if n not in set(names)]
        if missing:
            close = {n: difflib.get_close_matches(n, names, n=3, cutoff=0.5) for n in missing[:5]}
            hint = "; ".join(f"{n!r}: close matches {c!r}" for n, c in close.items())
            raise _err(fn, f"labels_xml names labels absent from the ARFF attributes of {arff.path}: {missing!r} "
                           f"({hint}; labels_xml {xml})")
        return wanted, f"the labels of {xml.name}"
    meka = _meka_labels(arff.relation)
    if meka is not None:
        if not 1 <= abs(meka) < A:
            raise _err(fn, f"name_or_train_path @relation says '-C {meka}' (MEKA: the first N attributes are the "
                           f"labels; -N: the last N), but the file has {A} attributes: {arff.path}")
        return (names[:meka] if meka > 0 else names[A + meka:]), f"the MEKA header '-C {meka}'"
    trailing = _trailing_binary_attributes(arff.attrs)
    if not trailing:
        raise _err(fn, f"labels_xml is None and {arff.path} has no XML beside it, no MEKA '-C N' in @relation and "
                       f"no trailing {{0,1}} nominal attributes to use as labels; pass labels=N (the last N "
                       f"attributes are the labels; `--labels N` on the command line) or an XML file")
    return trailing, "the trailing {0,1} attributes"


def _features_labels(arff: _Arff, label_names: List[str], fn: str, arg: str):
    """(x float64 (N, d), y int64 (N, k), feature names, label names in ARFF order) of a parsed file.
    Numeric features are copied; a nominal feature with 2 values becomes one 0/1 column (1 = its second value),
    one with V >= 3 values V one-hot columns ``name=value``. Missing values ('?') are an error."""
    label_set = set(label_names)
    x_cols, feature_names, y_cols, ordered = [], [], [], []
    codes = arff.codes
    for j, a in enumerate(arff.attrs):
        if a.name in label_set:
            y_cols.append(j)
            ordered.append(a.name)
        elif a.kind == "numeric" or len(a.values) <= 2:
            x_cols.append((j, None))
            feature_names.append(a.name)
        else:
            for c, v in enumerate(a.values):
                x_cols.append((j, c))
                feature_names.append(f"{a.name}={v}")
    if not x_cols:
        raise _err(fn, f"{arg} has no feature attributes besides the labels ({arff.path})")
    used = sorted({j for j, _ in x_cols})
    miss = np.isnan(codes[:, used])
    if miss.any():
        r, c = np.argwhere(miss)[0]
        raise _err(fn, f"{arg} {arff.path}, line {int(arff.lines[r])}: feature {arff.attrs[used[c]].name!r} is "
                       f"missing ('?'); missing feature values are not supported (impute them before loading)")
    plain = [j for j, c in x_cols if c is None]
    if len(plain) == len(x_cols):
        x = codes[:, plain]
    else:
        x = np.empty((codes.shape[0], len(x_cols)))
        for out, (j, c) in enumerate(x_cols):
            x[:, out] = codes[:, j] if c is None else (codes[:, j] == c)
    if not np.isfinite(x).all():
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise _err(fn, f"{arg} feature {feature_names[c]!r} (column {c}) is {x[r, c]} in data row {r + 1} (line "
                       f"{int(arff.lines[r])}); features must be finite: {arff.path}")
    y = np.empty((codes.shape[0], len(y_cols)), dtype=np.int64)
    for out, j in enumerate(y_cols):
        a, col = arff.attrs[j], codes[:, j]
        if a.kind == "nominal":
            lut = np.array([float(v) if v in ("0", "1") else np.nan for v in a.values])
            vals = lut[np.nan_to_num(col, nan=0).astype(np.int64)]
            vals[np.isnan(col)] = np.nan
        else:
            vals = col
        bad = ~np.isin(vals, (0.0, 1.0))
        if bad.any():
            r = int(np.argmax(bad))
            got = "'?' (missing)" if np.isnan(col[r]) else (repr(a.values[int(col[r])]).strip("'")
                                                           if a.kind == "nominal" else f"{vals[r]:g}")
            raise _err(fn, f"{arg} label {a.name!r} must take values in {{0, 1}}, got {got} (data row {r + 1}, "
                           f"line {int(arff.lines[r])} of {arff.path})")
        y[:, out] = vals.astype(np.int64)
    return x, y, feature_names, ordered


def load_multilabel(name_or_train_path: PathLike, test_path: PathLike | None = None,
                    labels_xml: PathLike | None = None, standardize: bool = True, *,
                    labels: Union[int, PathLike, None] = None) -> MultilabelData:
    """Load a multilabel dataset: a bundled name or the path of a user's own ARFF file (dense or sparse).

    ARFF: ``@relation`` / ``@attribute`` / ``@data`` in any case; names and values quoted with '…' or "…"
    (backslash escapes such as ``\\'``), unicode, spaces; ``%`` comments; CRLF; gzip; dense rows and sparse
    rows ``{i v, j v, …}`` (0-based indices; an omitted value is 0, for a nominal attribute its first value).
    Attributes are numeric/real/integer or nominal ``{a,b,…}``; string, date and relational attributes are
    refused. Nominal features: 2 values → one 0/1 column (1 = the second value, e.g. ``{0,1}`` → the value
    itself), V >= 3 values → V one-hot columns named ``name=value``. A missing feature value ``?`` is an
    error (impute before loading). Label attributes (nominal ``{0,1}`` or numeric) must hold 0 or 1.

    Labels (columns always in ARFF attribute order; for yeast the XML order differs):
    ``labels`` = an int N → the last N attributes (mulan's convention); a path → a mulan label XML
    (``<label name="…">`` elements, namespaced tags, any order; ``labels_xml`` is the same, kept for old
    calls); None → the XML beside the train file (``<stem>.xml``, a ``-train`` suffix removed), else a
    MEKA ``-C N`` in ``@relation`` (``'name: -C 6'``: the FIRST 6 attributes; ``-C -6``: the last 6), else
    the trailing ``{0,1}`` nominal attributes, else a ValueError asking for ``labels=N``.

    Args:
        name_or_train_path: "yeast", "emotions", "scene" or an ARFF file.
        test_path: optional ARFF test file with the same attributes (None: the test split is empty, 0
            rows; use :func:`holdout_indices` / :func:`kfold_indices` and :meth:`MultilabelData.split`).
        labels_xml: optional mulan label XML (the same as ``labels=path``).
        standardize: z-score the features with train-split statistics only.
        labels: int N, an XML path or None (see above).

    Returns:
        A `MultilabelData` of float32 tensors.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: a missing, unreadable or malformed file: the message names this function, the file, the
            line and the problem (bad number, wrong number of values, unknown attribute type, label not 0/1,
            XML label absent from the ARFF with its close matches, duplicated attribute, empty @data,
            truncated sparse pair, sparse index out of range, …).

    Example:
        data = load_multilabel("yeast")      # data.x_train (1500, 103), data.y_train (1500, 14)
        data = load_multilabel("birds.arff", labels=19)
    """
    fn = "load_multilabel"
    if standardize not in (True, False):
        raise TypeError(f"pyalgo.energy.{fn}: standardize must be a bool, got {standardize!r}")
    if labels is not None and labels_xml is not None:
        raise _err(fn, f"give labels or labels_xml, not both (got labels={labels!r}, labels_xml={labels_xml!r})")
    if labels is None:
        labels = labels_xml
    if labels is not None and (isinstance(labels, bool) or not isinstance(labels, (int, np.integer, str,
                                                                                   os.PathLike))):
        raise TypeError(f"pyalgo.energy.{fn}: labels must be an int N (the last N attributes), an XML path or "
                        f"None, got {type(labels).__name__}")
    if isinstance(name_or_train_path, str) and name_or_train_path in MULTILABEL:
        if test_path is not None or labels is not None:
            raise _err(fn, f"test_path and labels_xml must be None for the bundled dataset "
                           f"{name_or_train_path!r}, got test_path={test_path!r}, labels_xml={labels!r}")
        name = name_or_train_path
        base = DATASETS_DIR / "multilabel"
        train_path, test_path, labels = base / f"{name}-train.arff", base / f"{name}-test.arff", base / f"{name}.xml"
    else:
        if not isinstance(name_or_train_path, (str, os.PathLike)):
            raise TypeError(f"pyalgo.energy.{fn}: name_or_train_path must be one of {MULTILABEL} or a path, "
                            f"got {type(name_or_train_path).__name__}")
        train_path = Path(name_or_train_path)
        if not train_path.is_file():
            raise _err(fn, f"name_or_train_path must be one of {MULTILABEL} or an existing ARFF file, "
                           f"got {str(name_or_train_path)!r}")
        name = train_path.stem[:-6] if train_path.stem.endswith("-train") else train_path.stem
        if labels is None and _beside(train_path, ".xml").is_file():
            labels = _beside(train_path, ".xml")
    if test_path is not None and not Path(test_path).is_file():
        raise _err(fn, f"test_path must be an existing file, got {str(test_path)!r}")
    if labels is not None and not isinstance(labels, (int, np.integer)) and not Path(labels).is_file():
        raise _err(fn, f"labels_xml must be an existing file, got {str(labels)!r}")

    arff_tr = _parse_arff(train_path, fn, "name_or_train_path")
    label_names, _ = _choose_labels(arff_tr, labels, fn)
    x_tr, y_tr, feature_names, label_names = _features_labels(arff_tr, label_names, fn, "name_or_train_path")

    if test_path is not None:
        arff_te = _parse_arff(test_path, fn, "test_path")
        if [(a.name, a.kind, a.values) for a in arff_te.attrs] != [(a.name, a.kind, a.values) for a in arff_tr.attrs]:
            diff = next((f"attribute {i + 1}: {b.name!r} {b.kind} vs {a.name!r} {a.kind} in the train file"
                         for i, (a, b) in enumerate(zip(arff_tr.attrs, arff_te.attrs))
                         if (a.name, a.kind, a.values) != (b.name, b.kind, b.values)), "")
            raise _err(fn, f"test_path must have the same attributes as the train file, in the same order; "
                           f"got {len(arff_te.attrs)} attributes vs {len(arff_tr.attrs)} {diff} ({test_path})")
        x_te, y_te, _, _ = _features_labels(arff_te, label_names, fn, "test_path")
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


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _csv_table(lines: List[Tuple[int, str]], width: Optional[int], fn: str, path) -> np.ndarray:
    """The rows (file line, text) as a float64 table; a wrong field count or a bad number names its line."""
    if not lines:
        return np.empty((0, width or 0))
    counts = np.fromiter((s.count(",") + 1 for _, s in lines), dtype=np.int64, count=len(lines))
    width = int(counts[0]) if width is None else width
    bad = np.flatnonzero(counts != width)
    if bad.size:
        ln, s = lines[int(bad[0])]
        raise _err(fn, f"name_or_path {path}, line {ln}: {int(counts[bad[0]])} comma-separated values, expected "
                       f"{width}")
    cells = np.asarray(",".join(s for _, s in lines).split(","), dtype=str).reshape(len(lines), width)
    try:
        return cells.astype(np.float64)
    except ValueError:
        for (ln, _), row in zip(lines, cells):
            for c, v in enumerate(row):
                if not _is_number(v):
                    raise _err(fn, f"name_or_path rows must be comma-separated numbers: {path}, line {ln}, column "
                                   f"{c + 1}: {str(v).strip()[:40]!r} is not a number") from None
        raise


def load_label_ranking(name_or_path: PathLike, labels: Optional[int] = None) -> RankingData:
    """Load a label-ranking CSV: a bundled name (one of ``LABEL_RANKING``) or a path.

    Three layouts, each row = the features then the rank of each label (integers, 1 = most preferred; every
    row must be a permutation of 1..k):

    - scikit-lr: line 1 ``n_samples,n_features,n_labels`` (the bundled files);
    - a header of column names (line 1 holds a non-number): the ranking is the last ``labels`` columns, or
      with ``labels=None`` the longest run of trailing columns (>= 2) that holds a permutation of 1..k in every
      row;
    - no header (line 1 holds numbers only, not the 3-integer header): ``labels`` = the number of trailing
      rank columns is required.

    Blank lines, ``#`` comment lines and CRLF are accepted. Features are returned unchanged (the bundled files
    are already min-max or z-scored).

    Args:
        name_or_path: a bundled name or a CSV file.
        labels: the number k of trailing rank columns (headerless or named-header files), or None.

    Returns:
        A `RankingData`.

    Raises:
        TypeError: `name_or_path` is neither a name nor a path.
        ValueError: a missing, unreadable or malformed file; the message names this function, the file, the
            line and the problem (wrong field count, a bad number, a row that is not a permutation, …).

    Example:
        data = load_label_ranking("iris")
        split = data.split(*kfold_indices(len(data.x), folds=10)[0])
    """
    fn = "load_label_ranking"
    if labels is not None and (isinstance(labels, bool) or not isinstance(labels, (int, np.integer)) or labels < 1):
        raise _err(fn, f"labels must be None or an int >= 1 (the number of trailing rank columns), got {labels!r}")
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

    text = _read_text(path, fn, "name_or_path")
    rows = [(i + 1, s.strip()) for i, s in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))]
    rows = [(i, s) for i, s in rows if s and not s.startswith("#")]
    if rows and rows[0][1].startswith("\ufeff"):
        rows[0] = (rows[0][0], rows[0][1][1:])
    if not rows:
        raise _err(fn, f"name_or_path is empty (no header, no rows): {path}")
    first = [v.strip() for v in rows[0][1].split(",")]
    sklr = len(first) == 3 and all(re.fullmatch(r"[+-]?\d+", v) for v in first)
    if sklr and labels is not None:  # or the first row of a headerless file with 3 columns?
        sklr = int(first[2]) == labels and int(first[0]) == len(rows) - 1 and (
            len(rows) == 1 or int(first[1]) + labels == rows[1][1].count(",") + 1)
    if sklr:
        n_samples, n_features, n_labels = (int(v) for v in first)
        if n_samples < 0 or n_features < 0 or n_labels < 1:
            raise _err(fn, f"name_or_path header counts must be n_samples >= 0, n_features >= 0, n_labels >= 1, "
                           f"got {rows[0][1]!r} in {path}")
        body = rows[1:]
        counts = sorted({s.count(",") + 1 for _, s in body}) or [n_features + n_labels]
        if len(body) != n_samples or counts != [n_features + n_labels]:
            odd = next((i for i, s in body if s.count(",") + 1 != counts[0]), None) if len(counts) > 1 else None
            raise _err(fn, f"name_or_path header says {n_samples} rows of {n_features} features + {n_labels} "
                           f"ranks, got a table of shape ({len(body)}, {counts[0] if len(counts) == 1 else counts}) "
                           f"in {path}" + (f" (line {odd} has a different number of values)" if odd else ""))
        table = _csv_table(body, n_features + n_labels, fn, path)
    elif not all(_is_number(v) for v in first):
        body = rows[1:]
        width = body[0][1].count(",") + 1 if body else len(first)
        if width != len(first):
            raise _err(fn, f"name_or_path first line must be 'n_samples,n_features,n_labels' (three integers) or a "
                           f"header with one name per column; got {len(first)} names ({rows[0][1][:60]!r}) but "
                           f"line {body[0][0]} has {width} values: {path}")
        table = _csv_table(body, len(first), fn, path)
        if labels is None:  # the widest trailing block that is a permutation in every row, else the widest
            labels = 0      # block of integers in 1..k (its first bad row is then reported below)
            for k in range(2, len(first)):   # at least one feature column
                block = table[:, len(first) - k:]
                if not (table.shape[0] and (block == np.round(block)).all() and (block >= 1).all()
                        and (block <= k).all()):
                    continue
                if (np.sort(block, axis=1) == np.arange(1, k + 1)).all():
                    labels = k
                elif labels <= 0:
                    labels = -k
            labels = abs(labels)
            if labels == 0:
                raise _err(fn, f"name_or_path has a header of column names ({rows[0][1][:60]!r}) but no trailing "
                               f"columns (with at least one feature column before them) holding a permutation of "
                               f"1..k in every row; pass labels=k (the number of trailing rank columns; "
                               f"`--labels k` on the command line): {path}")
        n_labels = labels
    else:
        if labels is None:
            raise _err(fn, f"name_or_path has no header (line {rows[0][0]} is numbers only: {rows[0][1][:60]!r}); "
                           f"pass labels=k, the number of trailing rank columns (`--labels k` on the command "
                           f"line), or start the file with 'n_samples,n_features,n_labels': {path}")
        body = rows
        table = _csv_table(body, None, fn, path)
        n_labels = labels
    n_features = table.shape[1] - n_labels
    if n_features < 0:
        raise _err(fn, f"name_or_path has {table.shape[1]} columns, fewer than labels={n_labels}: {path}")
    x, r = table[:, :n_features], table[:, n_features:]
    if not np.isfinite(table).all():
        i, c = np.argwhere(~np.isfinite(table))[0]
        raise _err(fn, f"name_or_path must contain only finite numbers, got {table[i, c]} (nan/inf) on line "
                       f"{body[i][0]}, column {c + 1} of {path}")
    if (r != np.round(r)).any():
        i = int(np.argwhere(r != np.round(r))[0][0])
        raise _err(fn, f"name_or_path ranks must be integers, got non-integer ranks {r[i].tolist()} on line "
                       f"{body[i][0]} of {path}")
    ranks = r.astype(np.int64)
    bad = ~(np.sort(ranks, axis=1) == np.arange(1, n_labels + 1)).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise _err(fn, f"name_or_path rank rows must be permutations of 1..{n_labels}, got {ranks[i].tolist()} "
                       f"in data row {i + 1} (line {body[i][0]}) of {path}")
    return RankingData(x=torch.from_numpy(x.astype(np.float32)), ranks=torch.from_numpy(ranks), name=name)


# ----------------------------------------------------------------------------------------------------------
# k-fold and hold-out splits
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


def holdout_indices(n: int, test_fraction: float, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """A seeded hold-out split: ``round(test_fraction · n)`` rows (at least 1, at most n − 1) of a permutation of
    range(n) from ``np.random.default_rng(seed)`` are the test rows, the rest train.

    Args:
        n: the number of rows >= 2.
        test_fraction: the fraction of rows to test, 0 < test_fraction < 1.
        seed: the permutation's seed.

    Returns:
        ``(train_idx, test_idx)``, disjoint sorted int64 numpy arrays covering range(n).

    Raises:
        ValueError: invalid `n`, `test_fraction` or `seed`.

    Example:
        train_idx, test_idx = holdout_indices(978, 0.3, seed=0)
    """
    fn = "holdout_indices"
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise _err(fn, f"n must be an int >= 2 (one train and one test row), got {n!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.floating)) or not (
            0 < test_fraction < 1):
        raise _err(fn, f"test_fraction must be a number with 0 < test_fraction < 1, got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise _err(fn, f"seed must be an int, got {seed!r}")
    n_test = min(int(n) - 1, max(1, int(round(float(test_fraction) * int(n)))))
    order = np.random.default_rng(seed).permutation(int(n))
    return np.sort(order[n_test:]).astype(np.int64), np.sort(order[:n_test]).astype(np.int64)


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

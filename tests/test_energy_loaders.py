"""The real-format loaders of pyalgo.energy.data (issue 17): our ARFF parser (quoted and escaped names,
unicode, any-case keywords, nominal features, sparse rows, CRLF, MEKA -C), the label choice (XML, labels=N,
MEKA header), label-ranking CSV layouts, hold-out / k-fold splits, and one error per malformed input naming
the function, the file, the line and the problem."""
import re

import numpy as np
import pytest
import torch

from pyalgo.energy import data as D

XML_NS = "http://mulan.sourceforge.net/labels"


def _write(path, text, newline="\n"):
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def _xml(path, names, ns=True, nested=False):
    esc = [n.replace("&", "&amp;").replace('"', "&quot;") for n in names]
    body = "".join(f'<label name="{n}"></label>' for n in esc)
    if nested:  # mulan's hierarchical XML: labels inside labels
        body = f'<label name="{esc[0]}">' + "".join(f'<label name="{n}"></label>' for n in esc[1:]) + "</label>"
    attr = f' xmlns="{XML_NS}"' if ns else ""
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?><labels{attr}>{body}</labels>', encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ ARFF parsing
BIRDS = """% birds-like: escaped quotes, spaces, unicode, any-case keywords
@RELATION 'birds \\'test\\''

@ATTRIBUTE "song length" REAL
@attribute 'café ñ' Numeric
@Attribute count integer
@attribute 'Swainson\\'s Thrush' {0,1}
@attribute "Black-throated \\"Gray\\"" {0,1}
@attribute plain {0,1}

@DATA
1.5,2,3,1,0,1
% a comment row
-0.5,  4 , 5, 0 ,1,0

2.5,6,7,1,1,1
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_escaped_quoted_unicode_names_match_xml(tmp_path, newline):
    arff = _write(tmp_path / "birds-train.arff", BIRDS, newline)
    # XML in another order, with the names unescaped (XML attribute) -- the failing case
    xml = _xml(tmp_path / "names.xml", ['Black-throated "Gray"', "Swainson's Thrush", "plain"])
    ds = D.load_multilabel(arff, labels=xml, standardize=False)
    assert ds.feature_names == ["song length", "café ñ", "count"]
    assert ds.label_names == ["Swainson's Thrush", 'Black-throated "Gray"', "plain"]  # ARFF order
    assert ds.x_train.tolist() == [[1.5, 2, 3], [-0.5, 4, 5], [2.5, 6, 7]]
    assert ds.y_train.tolist() == [[1, 0, 1], [0, 1, 0], [1, 1, 1]]
    assert ds.name == "birds"
    # the XML beside the file (birds.xml for birds-train.arff) is found without being named; nested tags too
    _xml(tmp_path / "birds.xml", ["Swainson's Thrush", 'Black-throated "Gray"'], nested=True)
    ds2 = D.load_multilabel(arff, standardize=False)
    assert ds2.label_names == ["Swainson's Thrush", 'Black-throated "Gray"']
    assert ds2.feature_names == ["song length", "café ñ", "count", "plain"]  # {0,1} non-label → a 0/1 feature
    assert ds2.x_train[:, 3].tolist() == [1, 0, 1]
    # the old keyword and positional forms still work
    assert D.load_multilabel(arff, None, xml, False).label_names == ds.label_names


def test_xml_label_missing_gives_close_matches(tmp_path):
    arff = _write(tmp_path / "b.arff", BIRDS)
    xml = _xml(tmp_path / "x.xml", ["Swainsons Thrush", "plain"], ns=False)
    with pytest.raises(ValueError, match=r"pyalgo\.energy\.load_multilabel: labels_xml names labels absent .*"
                                         r"'Swainsons Thrush'.*close matches \[\"Swainson's Thrush\"\]"):
        D.load_multilabel(arff, labels=xml)


def test_nominal_features_one_hot_and_quoted_values(tmp_path):
    text = """@relation nominal
@attribute colour {red,'dark green',"sky blue"}
@attribute yesno {no,yes}
@attribute x numeric
@attribute L1 {0,1}
@attribute L2 numeric
@data
red,no,1,0,1
'dark green',yes,2,1,0
"sky blue",no,3,1,1
'dark green',yes,4,0,0
"""
    ds = D.load_multilabel(_write(tmp_path / "n.arff", text), labels=2, standardize=False)
    assert ds.feature_names == ["colour=red", "colour=dark green", "colour=sky blue", "yesno", "x"]
    assert ds.x_train.tolist() == [[1, 0, 0, 0, 1], [0, 1, 0, 1, 2], [0, 0, 1, 0, 3], [0, 1, 0, 1, 4]]
    assert ds.label_names == ["L1", "L2"] and ds.y_train.tolist() == [[0, 1], [1, 0], [1, 1], [0, 0]]


def test_sparse_rows_nominal_default_and_mixed_order(tmp_path):
    text = """@relation sparse
@attribute a numeric
@attribute b {x,y,z}
@attribute c numeric
@attribute L1 {0,1}
@attribute L2 {0,1}
@data
{0 1.5, 3 1}
{}
1,z,2,0,1
{1 y, 2 -3, 4 1}
{1 'z', 4 1}
"""
    ds = D.load_multilabel(_write(tmp_path / "s.arff", text), labels=2, standardize=False)
    assert ds.feature_names == ["a", "b=x", "b=y", "b=z", "c"]
    assert ds.x_train.tolist() == [[1.5, 1, 0, 0, 0],     # omitted nominal = its first value (x)
                                   [0, 1, 0, 0, 0],
                                   [1, 0, 0, 1, 2],
                                   [0, 0, 1, 0, -3],
                                   [0, 0, 0, 1, 0]]
    assert ds.y_train.tolist() == [[1, 0], [0, 0], [0, 1], [0, 1], [0, 1]]


def test_meka_header_and_labels_n(tmp_path):
    first = "@relation 'Toy: -C 2 -split-percentage 50'\n@attribute A {0,1}\n@attribute B {0,1}\n" \
            "@attribute f1 numeric\n@attribute f2 numeric\n@data\n1,0,0.5,7\n0,1,1.5,8\n"
    ds = D.load_multilabel(_write(tmp_path / "m.arff", first), standardize=False)
    assert ds.label_names == ["A", "B"] and ds.feature_names == ["f1", "f2"]
    assert ds.y_train.tolist() == [[1, 0], [0, 1]] and ds.x_train.tolist() == [[0.5, 7], [1.5, 8]]
    last = first.replace("-C 2", "-C -2").replace("@attribute A {0,1}\n@attribute B {0,1}\n", "") \
        .replace("@data", "@attribute A {0,1}\n@attribute B {0,1}\n@data").replace("1,0,0.5,7", "0.5,7,1,0") \
        .replace("0,1,1.5,8", "1.5,8,0,1")
    ds2 = D.load_multilabel(_write(tmp_path / "m2.arff", last), standardize=False)
    assert ds2.label_names == ["A", "B"] and ds2.y_train.tolist() == [[1, 0], [0, 1]]
    assert ds2.x_train.tolist() == [[0.5, 7], [1.5, 8]]
    # labels=N overrides the header: the last 3 attributes (f2, A, B); f2 holds 7 → not a 0/1 label
    with pytest.raises(ValueError, match=r"load_multilabel: name_or_train_path label 'f2' must take values in "
                                         r"\{0, 1\}, got 7 \(data row 1, line 7 of .*m2\.arff\)"):
        D.load_multilabel(tmp_path / "m2.arff", labels=3)
    assert D.load_multilabel(tmp_path / "m2.arff", labels=1).label_names == ["B"]


def _tokens(line):
    return line.strip().split(",")


def _as_sparse(src, dst):
    """The ARFF `src` rewritten with sparse rows (zeros omitted; the values' text kept as in the file)."""
    out, in_data = [], False
    for line in src.read_text().splitlines():
        if in_data and line.strip() and not line.startswith("%"):
            pairs = [f"{i} {v}" for i, v in enumerate(_tokens(line)) if float(v) != 0]
            out.append("{" + ", ".join(pairs) + "}")
        else:
            out.append(line)
            in_data = in_data or line.strip().lower() == "@data"
    dst.write_text("\r\n".join(out) + "\r\n")
    return dst


def test_bundled_yeast_round_trips_through_sparse_arff(tmp_path):
    src = D.DATASETS_DIR / "multilabel"
    tr = _as_sparse(src / "yeast-train.arff", tmp_path / "yeast-train.arff")
    te = _as_sparse(src / "yeast-test.arff", tmp_path / "yeast-test.arff")
    assert tr.read_text().count("{") > 1000  # really sparse rows
    _xml(tmp_path / "yeast.xml", D._read_label_xml(src / "yeast.xml", "t"))
    for standardize in (False, True):
        ref = D.load_multilabel("yeast", standardize=standardize)
        got = D.load_multilabel(tr, te, standardize=standardize)  # yeast.xml found beside the file
        for a in ("x_train", "y_train", "x_test", "y_test"):
            assert torch.equal(getattr(got, a), getattr(ref, a)), a
        assert got.label_names == ref.label_names and got.feature_names == ref.feature_names
    # and with labels=14 instead of the XML
    assert torch.equal(D.load_multilabel(tr, te, labels=14).y_test, D.load_multilabel("yeast").y_test)


def test_sparse_fast_path_equals_per_pair_path(tmp_path, monkeypatch):
    src = D.DATASETS_DIR / "multilabel" / "emotions-train.arff"
    path = _as_sparse(src, tmp_path / "e.arff")
    lines = path.read_bytes().decode().split("\r\n")
    i = next(i for i, l in enumerate(lines) if l.startswith("{"))
    pairs = lines[i][1:-1].split(", ")
    lines[i] = "{" + ", ".join(pairs[::-1]) + "}"     # indices in decreasing order are valid too
    path.write_bytes("\r\n".join(lines).encode())
    fast = D.load_multilabel(path, labels=6, standardize=False)
    ref = D.load_multilabel(src, labels=6, standardize=False)
    monkeypatch.setattr(D, "_fast_sparse", lambda *a: None)
    slow = D.load_multilabel(path, labels=6, standardize=False)
    for got in (fast, slow):
        assert torch.equal(got.x_train, ref.x_train) and torch.equal(got.y_train, ref.y_train)


def test_bundled_values_match_the_file_text():
    """Our parser against the file's text (independent of any ARFF library), every row of yeast-test."""
    path = D.DATASETS_DIR / "multilabel" / "yeast-test.arff"
    lines = path.read_text().splitlines()
    start = [i for i, l in enumerate(lines) if l.strip().lower() == "@data"][0] + 1
    table = np.array([[float(v) for v in _tokens(l)] for l in lines[start:] if l.strip()])
    ds = D.load_multilabel("yeast", standardize=False)
    assert np.array_equal(ds.x_test.numpy(), table[:, :103].astype(np.float32))
    assert np.array_equal(ds.y_test.numpy(), table[:, 103:].astype(np.float32))


def test_general_path_equals_fast_path(tmp_path, monkeypatch):
    """Rows with spaces/quotes go through the per-line tokenizer, and without the one-float()-pass fast path
    through numpy's string casts; the same numbers either way."""
    src = D.DATASETS_DIR / "multilabel" / "emotions-train.arff"
    text = src.read_text()
    head, body = text.split("@data", 1)
    quoted = head + "@data" + "\n".join(", ".join(f"'{v}'" for v in _tokens(l)) if l.strip() else l
                                       for l in body.split("\n"))
    ref = D.load_multilabel(src, labels=6, standardize=False)
    got = D.load_multilabel(_write(tmp_path / "q.arff", quoted), labels=6, standardize=False)
    assert torch.equal(got.x_train, ref.x_train) and torch.equal(got.y_train, ref.y_train)
    calls = []
    monkeypatch.setattr(D, "_fast_dense_codes", lambda *a: calls.append(1))
    for path in (src, tmp_path / "q.arff"):
        slow = D.load_multilabel(path, labels=6, standardize=False)
        assert torch.equal(slow.x_train, ref.x_train) and torch.equal(slow.y_train, ref.y_train)
    assert len(calls) == 2


def test_missing_feature_is_an_error(tmp_path):
    text = "@relation m\n@attribute f numeric\n@attribute g numeric\n@attribute L {0,1}\n@data\n1,2,0\n3,?,1\n"
    with pytest.raises(ValueError, match=r"pyalgo\.energy\.load_multilabel: name_or_train_path .*m\.arff, line 7: "
                                         r"feature 'g' is missing \('\?'\); missing feature values are not supported"):
        D.load_multilabel(_write(tmp_path / "m.arff", text), labels=1)
    sparse = text.replace("3,?,1", "{1 ?, 2 1}")
    with pytest.raises(ValueError, match=r"line 7: feature 'g' is missing"):
        D.load_multilabel(_write(tmp_path / "m.arff", sparse), labels=1)
    with pytest.raises(ValueError, match=r"label 'L' must take values in \{0, 1\}, got '\?' \(missing\)"):
        D.load_multilabel(_write(tmp_path / "m.arff", text.replace("3,?,1", "3,4,?")), labels=1)


HEAD = "@relation t\n@attribute f1 numeric\n@attribute f2 {a,b}\n@attribute L1 {0,1}\n@attribute L2 {0,1}\n@data\n"


@pytest.mark.parametrize("text, line, problem", [
    (HEAD + "1,a,0,1\nx1,a,0,1\n", 8, r"attribute 'f1' \(numeric\) has the value 'x1', which is not a number"),
    (HEAD + "1,a,0,1\n1, c,0,1\n", 8, r"attribute 'f2' has the value 'c', not in its nominal domain \{a,b\}"),
    (HEAD + "1,a,0,2\n", 7, r"attribute 'L2' has the value '2', not in its nominal domain \{0,1\}"),
    (HEAD.replace("f2 {a,b}", "f2 text"), 3, r"attribute 'f2' has an unknown type 'text'"),
    (HEAD.replace("f2 {a,b}", "f2 string"), 3, r"attribute 'f2' has type string; only numeric"),
    (HEAD.replace("f2 {a,b}", "f2 {a,b"), 3, r"attribute 'f2': unterminated nominal domain '\{a,b' \(no closing"),
    (HEAD.replace("f2 {a,b}", "f1 {a,b}"), 3, r"duplicated attribute 'f1' \(first declared on line 2\)"),
    (HEAD.replace("@attribute f2", "@attribute 'f2"), 3, r"unterminated '-quoted attribute name"),
    (HEAD.replace("@relation t", "@relation t\nhello"), 2, r"expected @relation, @attribute or @data"),
    (HEAD + "{0 1, 3}\n", 7, r"truncated sparse pair '3' \(expected 'index value'\)"),
    (HEAD + "{0 1, 4 1}\n", 7, r"sparse index 4 out of range \[0, 3\]"),
    (HEAD + "{0 1, -1 1}\n", 7, r"sparse index -1 out of range"),
    (HEAD + "{0 1, x 1}\n", 7, r"sparse index 'x' is not an integer"),
    (HEAD + "{0 1, 0 2}\n", 7, r"sparse index 0 appears twice"),
    (HEAD + "{0 1, 3 1\n", 7, r"sparse row without its closing '\}'"),
    (HEAD + "{0 x1}\n", 7, r"attribute 'f1' \(numeric\) has the value 'x1'"),
    (HEAD + "1,'a,0,1\n", 7, r"unterminated '-quoted value"),
    (HEAD + "1,'a'b,0,1\n", 7, r"text 'b' after the closing quote"),
])
def test_malformed_arff_names_file_line_problem(tmp_path, text, line, problem):
    path = _write(tmp_path / "bad.arff", text)
    with pytest.raises(ValueError, match=r"^pyalgo\.energy\.load_multilabel: name_or_train_path .*bad\.arff, line "
                                         + str(line) + r": " + problem):
        D.load_multilabel(path, labels=2)


def test_malformed_arff_whole_file_problems(tmp_path):
    fn = r"^pyalgo\.energy\.load_multilabel: "
    for rows, got in (("1,a,0,1,5\n", 5), ("1,'a',0\n", 3), ("1,a,0,1\n1,b,0\n", 3)):
        with pytest.raises(ValueError, match=fn + rf"name_or_train_path line {6 + rows.count(chr(10))} has {got} "
                                              r"values, expected 4 \(one per @attribute\): .*w\.arff"):
            D.load_multilabel(_write(tmp_path / "w.arff", HEAD + rows), labels=2)
    with pytest.raises(ValueError, match=fn + r"name_or_train_path has no data rows after @data \(line 6\)"):
        D.load_multilabel(_write(tmp_path / "e.arff", HEAD + "% only a comment\n\n"), labels=2)
    with pytest.raises(ValueError, match=fn + r"name_or_train_path has no @data section"):
        D.load_multilabel(_write(tmp_path / "e.arff", HEAD.replace("@data\n", "")), labels=2)
    with pytest.raises(ValueError, match=fn + r"labels must be an int N with 1 <= N < 4 .* got 4"):
        D.load_multilabel(_write(tmp_path / "ok.arff", HEAD + "1,a,0,1\n"), labels=4)
    with pytest.raises(ValueError, match=fn + r"name_or_train_path @relation says '-C 9'"):
        D.load_multilabel(_write(tmp_path / "c.arff", HEAD.replace("@relation t", "@relation 't: -C 9'")
                                 + "1,a,0,1\n"))
    with pytest.raises(ValueError, match=fn + r"give labels or labels_xml, not both"):
        D.load_multilabel(tmp_path / "ok.arff", labels_xml=tmp_path / "x.xml", labels=2)
    with pytest.raises(TypeError, match=fn + r"labels must be an int N"):
        D.load_multilabel(tmp_path / "ok.arff", labels=2.0)
    with pytest.raises(ValueError, match=fn + r"labels_xml must be an existing file"):
        D.load_multilabel(tmp_path / "ok.arff", labels=str(tmp_path / "nope.xml"))
    no_labels = "@relation t\n@attribute f1 numeric\n@attribute f2 numeric\n@data\n1,2\n"
    with pytest.raises(ValueError, match=fn + r"labels_xml is None and .* no trailing \{0,1\} nominal attributes .*"
                                          r"pass labels=N .*`--labels N`"):
        D.load_multilabel(_write(tmp_path / "nl.arff", no_labels))
    # the test file: its own line numbers and argument name
    with pytest.raises(ValueError, match=fn + r"test_path .*te\.arff, line 8: attribute 'f1' \(numeric\) has the "
                                          r"value 'oops'"):
        D.load_multilabel(tmp_path / "ok.arff", _write(tmp_path / "te.arff", HEAD + "1,a,0,1\noops,a,0,1\n"),
                          labels=2)
    with pytest.raises(ValueError, match=fn + r"test_path has no data rows"):
        D.load_multilabel(tmp_path / "ok.arff", _write(tmp_path / "te.arff", HEAD), labels=2)
    with pytest.raises(ValueError, match=fn + r"test_path must have the same attributes .* attribute 2: 'f2' "
                                          r"numeric vs 'f2' nominal"):
        D.load_multilabel(tmp_path / "ok.arff", _write(tmp_path / "te.arff", HEAD.replace("{a,b}", "numeric") + "1,2,0,1\n"),
                          labels=2)


# ------------------------------------------------------------------------------------------------ splits
def test_holdout_indices():
    tr, te = D.holdout_indices(10, 0.3, seed=1)
    assert len(te) == 3 and len(tr) == 7 and tr.dtype == np.int64 and te.dtype == np.int64
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(10))
    assert np.array_equal(te, np.sort(np.random.default_rng(1).permutation(10)[:3]))
    tr2, te2 = D.holdout_indices(10, 0.3, seed=1)
    assert np.array_equal(te, te2) and not np.array_equal(te, D.holdout_indices(10, 0.3, seed=2)[1])
    assert len(D.holdout_indices(2, 0.01)[1]) == 1 and len(D.holdout_indices(2, 0.99)[1]) == 1
    for bad, arg in [(dict(n=1, test_fraction=0.5), "n"), (dict(n=5, test_fraction=1.0), "test_fraction"),
                     (dict(n=5, test_fraction=0), "test_fraction"), (dict(n=5, test_fraction=0.5, seed=0.5), "seed")]:
        with pytest.raises(ValueError, match=rf"pyalgo\.energy\.holdout_indices: {arg} must"):
            D.holdout_indices(**bad)


def test_multilabel_split_standardises_with_its_train_rows():
    raw = D.load_multilabel("emotions", standardize=False)
    tr, te = D.holdout_indices(raw.x_train.shape[0], 0.25, seed=0)
    s = raw.split(tr, te)
    x = raw.x_train.double()
    mu, sd = x[tr].mean(0), x[tr].std(0, unbiased=False)
    assert torch.allclose(s.x_train.double(), (x[tr] - mu) / sd, atol=1e-5)
    assert torch.allclose(s.x_test.double(), (x[te] - mu) / sd, atol=1e-5)
    assert torch.equal(s.y_train, raw.y_train[tr]) and torch.equal(s.y_test, raw.y_train[te])
    assert s.x_train.dtype == torch.float32 and s.label_names == raw.label_names
    assert torch.equal(raw.split(tr, te, standardize=False).x_test, raw.x_train[te])


# ------------------------------------------------------------------------------------------------ ranking CSV
def test_ranking_csv_layouts(tmp_path):
    rows = "0.5,1.5,2,1,3\n-1,0,3,2,1\n2,2,1,2,3\n"
    want_x, want_r = [[0.5, 1.5], [-1, 0], [2, 2]], [[2, 1, 3], [3, 2, 1], [1, 2, 3]]
    sklr = D.load_label_ranking(_write(tmp_path / "a.csv", "3,2,3\n" + rows, "\r\n"))
    named = D.load_label_ranking(_write(tmp_path / "b.csv", "f1,f2,L1,L2,L3\n" + rows))   # detected: 3 ranks
    named_n = D.load_label_ranking(tmp_path / "b.csv", labels=3)
    bare = D.load_label_ranking(_write(tmp_path / "c.csv", "# comment\n" + rows + "\n"), labels=3)
    for ds in (sklr, named, named_n, bare):
        assert ds.x.tolist() == want_x and ds.ranks.tolist() == want_r
    # a headerless file whose first row is 3 integers: with labels it is data, not the sklr header
    three = D.load_label_ranking(_write(tmp_path / "d.csv", "5,1,2\n7,2,1\n"), labels=2)
    assert three.x.tolist() == [[5], [7]] and three.ranks.tolist() == [[1, 2], [2, 1]]


@pytest.mark.parametrize("text, labels, msg", [
    ("0.5,1,2,3\n0.1,3,1,2\n", None, r"has no header \(line 1 is numbers only.*pass labels=k"),
    ("a,b,c\n0.5,7,9\n0.1,1,1\n", None, r"header of column names .* no trailing columns"),
    ("a,b,c\n0.5,2,1\n0.1,1,1\n", None, r"permutations of 1\.\.2, got \[1, 1\] in data row 2 \(line 3\)"),
    ("f1,L1,L2\n0.5,2,1\n0.1,1,1\n", 2, r"rank rows must be permutations of 1\.\.2, got \[1, 1\] in data row 2 "
                                        r"\(line 3\)"),
    ("0.5,2,1\n0.1,1\n", 2, r"line 2: 2 comma-separated values, expected 3"),
    ("0.5,2,1\n0.1,x,1\n", 2, r"rows must be comma-separated numbers: .*line 2, column 2: 'x' is not a number"),
    ("f1,L1,L2\n0.5,2,1\n0.1,2.5,1\n", 2, r"ranks must be integers, got non-integer ranks \[2\.5, 1\.0\] on line 3"),
    ("f1,L1\n0.5,1,3\n", None, r"first line must be 'n_samples,n_features,n_labels' .* 2 names .* line 2 has 3"),
    ("0.5,2,1\n", 5, r"has 3 columns, fewer than labels=5"),
    ("2,1,2\n0.5,2,1\nnan,1,2\n", None, r"only finite numbers, got nan \(nan/inf\) on line 3, column 1"),
    ("\n\n", None, r"is empty"),
])
def test_ranking_csv_errors(tmp_path, text, labels, msg):
    path = _write(tmp_path / "r.csv", text)
    with pytest.raises(ValueError, match=r"^pyalgo\.energy\.load_label_ranking: .*" + msg):
        D.load_label_ranking(path, labels=labels)
    assert str(path) in str(pytest.raises(ValueError, D.load_label_ranking, path, labels=labels).value)


def test_ranking_labels_argument_checked():
    with pytest.raises(ValueError, match=r"load_label_ranking: labels must be None or an int >= 1 .*got 0"):
        D.load_label_ranking("iris", labels=0)

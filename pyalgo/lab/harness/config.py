"""One config convention for every experiment: a frozen dataclass with three presets.

- `tiny()`: seconds; what the tests run.
- `quick()`: minutes on 2 CPU cores; what `pyalgo reproduce --quick` (the README command) runs.
- `full()`: the paper's settings; hours to days.

Fields may be nested configs (frozen dataclasses too). The command line changes any field with
`--set key=value` (`--set vae.epochs=3`, `--set seeds=[0,1,2]`); values are Python literals, checked
against the type of the value they replace.
"""
from __future__ import annotations

import ast
import dataclasses
import math
from typing import Any, Dict, Iterable, Mapping, Tuple, TypeVar

C = TypeVar("C", bound="Preset")
PRESETS = ("tiny", "quick", "full")


MAX_INT = 2 ** 31 - 1        # counts, sizes, steps (a larger value would not finish or not fit in memory)
MAX_SEED = 2 ** 32 - 1       # fields named *seed* / *seeds*
_SIMPLE = {"int": int, "float": float, "bool": bool, "str": str, "tuple": tuple}


def _kind(f: dataclasses.Field, default: Any) -> Any:
    """The type a field's values must have: its annotation when simple, else its default's type."""
    ann = str(f.type).replace("typing.", "").replace(" ", "")
    if ann.startswith("Optional[") and ann[9:-1] in _SIMPLE:
        return _SIMPLE[ann[9:-1]]
    if ann.endswith("|None") and ann[:-5] in _SIMPLE:
        return _SIMPLE[ann[:-5]]
    if ann in _SIMPLE:
        return _SIMPLE[ann]
    if ann.startswith(("Tuple", "tuple")):
        return tuple
    if isinstance(default, bool):
        return bool
    for t in (int, float, str, tuple):
        if isinstance(default, t):
            return t
    return None


def _check_value(where: str, kind: Any, v: Any, default: Any, seed: bool) -> Any:
    """v checked against `kind` (a clear ValueError naming `where`); returns v normalised (list -> tuple)."""
    if kind is bool:
        if not isinstance(v, bool):
            raise ValueError(f"{where} must be a bool, got {v!r}")
    elif kind is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"{where} must be an integer, got {v!r}")
        low = 0 if (seed or (isinstance(default, int) and default >= 0)) else -MAX_INT
        high = MAX_SEED if seed else MAX_INT
        if not low <= v <= high:
            raise ValueError(f"{where} must be an integer in [{low}, {high}], got {v!r}")
    elif kind is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{where} must be a finite number, got {v!r}")
    elif kind is str:
        if not isinstance(v, str):
            raise ValueError(f"{where} must be a string, got {v!r}")
    elif kind is tuple:
        if isinstance(v, list):
            v = tuple(v)
        if not isinstance(v, tuple):
            raise ValueError(f"{where} must be a tuple, got {v!r}")
        if where.endswith(".seeds") and isinstance(default, tuple) and default and not v:
            raise ValueError(f"{where} must not be empty")
        if isinstance(default, tuple) and default:
            kinds = {bool if isinstance(d, bool) else type(d) for d in default}
            if kinds == {tuple} and all(isinstance(x, int) for d in default for x in d):
                for item in v:                               # e.g. ((C, L), ...): tuples of counts
                    item = _check_value(f"{where}[]", tuple, item, (), seed)
                    for x in item:
                        _check_value(f"{where}[][]", int, x, 0, seed)
            elif len(kinds) == 1 and next(iter(kinds)) in (int, float, str, bool):
                inner = next(iter(kinds))
                low = min(default) if inner in (int, float) else None
                for item in v:
                    _check_value(f"{where}[]", float if inner is float else inner, item,
                                 low if inner is int else None, seed)
    return v


def check_fields(obj: Any) -> None:
    """Checks every field of the dataclass `obj` against its annotation (or its default's type):
    bools are bools; integers are integers in [0, 2**31 - 1] (seeds: [0, 2**32 - 1]; a negative
    default allows negatives); floats are finite numbers; strings are strings; a tuple field holds a
    tuple (a list becomes one) of items of its default's item type (a `seeds` tuple not empty when its default is not). `None` passes where the annotation says Optional; nested dataclasses must be of the
    default's class. The ValueError names `module.Class.field`."""
    cls = type(obj)
    name = getattr(cls, "PUBLIC_NAME", None) or f"{cls.__module__}.{cls.__qualname__}"
    for f in dataclasses.fields(obj):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()                    # type: ignore[misc]
        else:
            default = None
        v = getattr(obj, f.name)
        where = f"{name}.{f.name}"
        ann = str(f.type)
        if v is None and ("Optional" in ann or "None" in ann or default is None):
            continue
        if dataclasses.is_dataclass(default):
            if not isinstance(v, type(default)):
                raise ValueError(f"{where} must be a {type(default).__name__}, got {v!r}")
            continue
        kind = _kind(f, default)
        if kind is None:
            continue
        new = _check_value(where, kind, v, default, "seed" in f.name)
        if new is not v:
            object.__setattr__(obj, f.name, new)


class Validated:
    """Mixin of the lab's config dataclasses: after the class's own `__post_init__` (whose messages
    win), every field is checked by `check_fields`; when the class's own checks fail with anything
    but a ValueError (a comparison of a string with a number, say), the field check runs first so
    that the error is a clear ValueError naming the class and the field."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")

        def __post_init__(self):
            if own is not None:
                try:
                    own(self)
                except ValueError:
                    raise
                except Exception:
                    check_fields(self)
                    raise
            check_fields(self)
        cls.__post_init__ = __post_init__


class Preset:
    """Base of the experiment configs: subclasses are `@dataclass(frozen=True)` with the classmethods
    `tiny()`, `quick()` and `full()`. The lab's configs also derive from `Validated` (every field
    checked on construction)."""

    @classmethod
    def preset(cls: type[C], name: str) -> C:
        if name not in PRESETS or not hasattr(cls, name):
            raise ValueError(f"preset must be one of {[p for p in PRESETS if hasattr(cls, p)]}, got {name!r}")
        return getattr(cls, name)()

    def with_seed(self: C, seed: int) -> C:
        """The same config started from `seed`: a `seeds` tuple becomes seed, seed + 1, ...; a `seed`
        field becomes `seed`; nested configs follow."""
        changes: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "seeds" and isinstance(value, tuple):
                changes[f.name] = tuple(seed + i for i in range(len(value)))
            elif f.name == "seed" and isinstance(value, int):
                changes[f.name] = seed
            elif isinstance(value, Preset):
                changes[f.name] = value.with_seed(seed)
        return dataclasses.replace(self, **changes)


def to_dict(cfg: Any) -> Dict[str, Any]:
    """The config as plain data (nested dicts; tuples stay tuples until JSON)."""
    return dataclasses.asdict(cfg)


def _parse(text: str) -> Any:
    """A Python literal; a bare word is a string, and so is each bare word of a list ("[reinmax,st]")."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if len(text) >= 2 and text[0] + text[-1] in ("[]", "()"):
            inner = text[1:-1].strip()
            return [_parse(item.strip()) for item in inner.split(",")] if inner else []
        return text


def _coerce(key: str, old: Any, new: Any) -> Any:
    """`new` in the type of `old` (a list becomes a tuple, an int a float), or a clear error."""
    if old is None or new is None:
        return new
    if isinstance(old, bool):
        if isinstance(new, bool):
            return new
    elif isinstance(old, int):
        if isinstance(new, int) and not isinstance(new, bool):
            return new
    elif isinstance(old, float):
        if isinstance(new, (int, float)) and not isinstance(new, bool):
            return float(new)
    elif isinstance(old, str):
        return str(new)
    elif isinstance(old, tuple):
        if isinstance(new, (list, tuple)):
            return tuple(tuple(v) if isinstance(v, list) else v for v in new)
        return (new,)
    elif isinstance(old, dict):
        if isinstance(new, dict):
            return new
    else:
        return new
    raise ValueError(f"--set {key}: expected a {type(old).__name__} like {old!r}, got {new!r}")


def override(cfg: C, assignments: Iterable[str]) -> C:
    """`cfg` with each "dotted.key=value" applied (value a Python literal or a bare string)."""
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes key=value, got {item!r}")
        cfg = _replace_path(cfg, key.strip().split("."), _parse(text.strip()), key.strip())
    return cfg


def _replace_path(obj: Any, path: list, value: Any, key: str) -> Any:
    names = [f.name for f in dataclasses.fields(obj)]
    head = path[0]
    if head not in names:
        raise ValueError(f"--set {key}: {type(obj).__name__} has no field {head!r}; fields: {', '.join(names)}")
    old = getattr(obj, head)
    if len(path) > 1:
        if not dataclasses.is_dataclass(old):
            raise ValueError(f"--set {key}: {head!r} is not a nested config")
        new = _replace_path(old, path[1:], value, key)
    else:
        new = _coerce(key, old, value)
    try:
        return dataclasses.replace(obj, **{head: new})
    except (TypeError, ValueError) as exc:  # a config's own validation
        raise ValueError(f"--set {key}: {exc}") from exc


def diff(saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> Tuple[str, ...]:
    """The dotted keys whose values differ between two plain-data configs."""
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(diff(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return tuple(out)

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
from typing import Any, Dict, Iterable, Mapping, Tuple, TypeVar

C = TypeVar("C", bound="Preset")
PRESETS = ("tiny", "quick", "full")


class Preset:
    """Base of the experiment configs: subclasses are `@dataclass(frozen=True)` with the classmethods
    `tiny()`, `quick()` and `full()`."""

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

"""One registry per concept (schedules, samplers).

Each entry declares its name, its function and its parameters. Node inputs,
CLI choices and docs are generated from these declarations, so adding a
schedule or a sampler is one function and one ``register`` call.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

PARAM_TYPES = ("INT", "FLOAT", "BOOLEAN", "COMBO", "STRING")


@dataclass(frozen=True)
class Param:
    """A declared parameter: ComfyUI widget type, default, bounds and tooltip."""

    name: str
    type: str
    default: Any
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple = ()
    tooltip: str = ""

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise ValueError(f"Param {self.name!r}: type must be one of {PARAM_TYPES}, got {self.type!r}")
        if self.type == "COMBO" and self.default not in self.choices:
            raise ValueError(f"Param {self.name!r}: default {self.default!r} is not among {self.choices}")

    def check(self, value: Any, owner: str) -> Any:
        """Coerce ``value`` to this parameter's type; raise naming ``owner`` and the parameter."""
        where = f"{owner}: parameter {self.name!r}"
        if self.type == "COMBO":
            if value not in self.choices:
                raise ValueError(f"{where} must be one of {list(self.choices)}, got {value!r}")
            return value
        if self.type == "BOOLEAN":
            if not isinstance(value, (bool, int)):
                raise ValueError(f"{where} must be true or false, got {value!r}")
            return bool(value)
        if self.type == "STRING":
            return str(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be a number, got {value!r}") from None
        if math.isnan(number):
            raise ValueError(f"{where} is NaN; give a finite number")
        if self.type == "INT":
            if number != int(number):
                raise ValueError(f"{where} must be a whole number, got {value!r}")
            number = int(number)
        if self.min is not None and number < self.min:
            raise ValueError(f"{where} = {value!r} is below its minimum {self.min}")
        if self.max is not None and number > self.max:
            raise ValueError(f"{where} = {value!r} is above its maximum {self.max}")
        return number


@dataclass(frozen=True)
class Entry:
    name: str
    fn: Callable
    params: tuple[Param, ...]
    description: str = ""
    tags: frozenset = field(default_factory=frozenset)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}; it has {[p.name for p in self.params]}")

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def bind(self, **values) -> dict:
        """Fill defaults, check every value against its declaration, refuse unknown names."""
        unknown = sorted(set(values) - {p.name for p in self.params})
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {unknown}; known: {[p.name for p in self.params]}")
        return {p.name: p.check(values.get(p.name, p.default), self.name) for p in self.params}

    def __call__(self, *args, **values):
        return self.fn(*args, **self.bind(**values))


class Registry:
    """Name -> Entry, in registration order."""

    def __init__(self, concept: str):
        self.concept = concept
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, params=(), description: str = "", tags=()):
        def add(fn: Callable) -> Callable:
            if name in self._entries:
                raise ValueError(f"{self.concept} {name!r} is registered twice")
            summary = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())  # the first paragraph, one line
            self._entries[name] = Entry(name, fn, tuple(params), description or summary, frozenset(tags))
            return fn

        return add

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown {self.concept} {name!r}{hint} (known: {', '.join(self._entries)})") from None

    def names(self, tag: str | None = None) -> list[str]:
        return [n for n, e in self._entries.items() if tag is None or tag in e.tags]

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


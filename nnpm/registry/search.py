"""What `nnpm search` matches, and the names it suggests on a typo: one definition for every registry.

A registry used to test whether each query word was a *substring* of its text, so
`nnpm search shoes` missed a package that said "shoe", and `nnpm search net` found
every "internet" and "cabinet". Here a query matches a package when every query
word starts a word of the package's name, classes, description or kind, compared
case-insensitively and with plurals folded (`shoes` finds "shoe", `boxes` finds
"box"). Words are runs of letters and digits, so `fmnist/sneaker-module` is the
words `fmnist`, `sneaker` and `module`, and a query spelled `sneaker-mod` works too.

`suggest` is the "did you mean" of pip and cargo: difflib's close matches among the
names a registry holds. It is pure; `did_you_mean` asks registries for their names
and builds the hint a not-found error carries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from nnpm.errors import NnpmError

if TYPE_CHECKING:
    from nnpm.registry.base import Registry, VersionInfo

_WORD = re.compile(r"[^\W_]+")
#: how alike two names must be (difflib's ratio) to be offered: pip and cargo use about this
CUTOFF = 0.6
#: a suggestion must be about as close as the best one: `fmnist/sneakers-module` offers
#: `fmnist/sneaker-module`, not every `fmnist/*-module` that clears the cutoff
MARGIN = 0.1


def words(text: str) -> list[str]:
    """The lowercase words of `text`: runs of letters and digits ("T-shirt/top" -> t, shirt, top)."""
    return _WORD.findall(text.casefold())


def singular(word: str) -> str:
    """A plural's singular by English spelling rules, enough to fold `shoes`/`shoe` and `boxes`/`box`.

    Not a stemmer: it only undoes the regular plural, so `bus` and `bug` stay apart.
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def word_matches(query_word: str, word: str) -> bool:
    """`query_word` starts `word`, or both are the same word up to a plural ending."""
    return word.startswith(query_word) or singular(word) == singular(query_word)


def text_matches(query: str, text: str) -> bool:
    """Every word of `query` matches some word of `text`; the empty query matches everything."""
    haystack = set(words(text))
    return all(any(word_matches(q, w) for w in haystack) for q in words(query))


def searchable_text(info: VersionInfo) -> str:
    """What a query is matched against: the name, the classes, the description and the kind."""
    return " ".join([str(info.name), *info.classes, info.description, info.kind])


def matches(query: str, info: VersionInfo) -> bool:
    """Whether `info` (a package's latest version) is a hit for `query`."""
    return text_matches(query, searchable_text(info))


def select(query: str, infos: Iterable[VersionInfo]) -> list[VersionInfo]:
    """The hits among `infos`, sorted by package name: what every registry's `search` returns."""
    return sorted((i for i in infos if matches(query, i)), key=lambda i: str(i.name))


def suggest(name: str, names: Iterable[str], *, limit: int = 3) -> list[str]:
    """The names closest to `name` (a package that was not found), best first; never `name` itself.

    difflib's ratio, as `difflib.get_close_matches` (and pip) use it, compared
    lowercased, so `FMNIST/Sneaker-Module` finds `fmnist/sneaker-module`.
    """
    import difflib  # only on the error path: keep it out of CLI start-up

    by_key: dict[str, str] = {}
    for candidate in map(str, names):
        if candidate != str(name):
            by_key.setdefault(candidate.casefold(), candidate)
    wanted = str(name).casefold()
    scored = [(difflib.SequenceMatcher(None, wanted, key).ratio(), key) for key in by_key]
    scored = sorted((s for s in scored if s[0] >= CUTOFF), key=lambda s: (-s[0], s[1]))[:limit]
    # names of one namespace share most letters: offer only the ones about as close as the best
    return [by_key[key] for score, key in scored if score >= scored[0][0] - MARGIN]


def package_names(registry: Registry) -> list[str]:
    """Every package name `registry` holds: its cheap `package_names()` when it has one, else a search."""
    lister = getattr(registry, "package_names", None)
    if callable(lister):
        return list(lister())
    return [str(info.name) for info in registry.search("")]


def did_you_mean(name: str, registries: Sequence[Registry]) -> str | None:
    """`did you mean fmnist/sneaker-module?`, the hint for a not-found package; None with no close name.

    It runs on an error path, so a registry that cannot list its names (offline, down,
    no permission) is skipped rather than replacing the not-found error with its own.
    """
    names: list[str] = []
    for registry in registries:
        try:
            names += package_names(registry)
        except NnpmError:
            continue
    close = suggest(name, names)
    if not close:
        return None
    return f"did you mean {' or '.join(close)}? (`nnpm search WORD` lists what a registry holds)"

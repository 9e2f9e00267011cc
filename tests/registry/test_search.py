"""One search matcher and one "did you mean" for every registry (nnpm/registry/search.py)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from nnpm.errors import OfflineError
from nnpm.package.naming import PackageName
from nnpm.registry.base import VersionInfo
from nnpm.registry.hub import HubRegistry
from nnpm.registry.local import LocalRegistry
from nnpm.registry.search import did_you_mean, matches, select, singular, suggest, text_matches, words
from tests.registry import hub_fixtures
from tests.registry.hub_fixtures import ALICE, make_package

hub_env, hub, registry = hub_fixtures.hub_env, hub_fixtures.hub, hub_fixtures.registry

NAMES = [
    "fmnist/sneaker-module",
    "fmnist/bag-module",
    "fmnist/sandal-module",
    "fmnist/ankle-boot-module",
    "digits/mlp",
]


def info(
    name: str, *, classes: tuple[str, ...] = (), description: str = "", kind: str = "module"
) -> VersionInfo:
    return VersionInfo(
        PackageName.parse(name), Version("1.0.0"), "0" * 64, kind, description=description, classes=classes
    )


# --- the matcher ---------------------------------------------------------------------------------


def test_words_are_runs_of_letters_and_digits_lowercased():
    assert words("fmnist/Sneaker-module") == ["fmnist", "sneaker", "module"]
    assert words("T-shirt/top, Ankle boot") == ["t", "shirt", "top", "ankle", "boot"]
    assert words("digit_0") == ["digit", "0"]


@pytest.mark.parametrize(
    ("plural", "single"),
    [
        ("shoes", "shoe"),
        ("boots", "boot"),
        ("boxes", "box"),
        ("dresses", "dress"),
        ("categories", "category"),
    ],
)
def test_regular_plurals_fold_to_the_singular(plural, single):
    assert singular(plural) == single and singular(single) == single


def test_plural_folding_is_not_a_stemmer():
    assert singular("bus") == "bus" and singular("class") == "class" and singular("analysis") == "analysis"
    assert not text_matches("bus", "bug")


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("shoe", "running shoes"),  # singular query, plural text
        ("shoes", "a shoe"),  # plural query, singular text
        ("SNEAKER", "fmnist/sneaker-module"),  # case-insensitive
        ("sneak", "Sneaker"),  # a word prefix
        ("ankle boot", "Ankle boot"),  # every word, in any field
        ("boots ankle", "Ankle boot"),  # order does not matter
        ("sneaker-mod", "fmnist/sneaker-module"),  # a query is split into words the same way
        ("", "anything"),  # the empty query lists everything
    ],
)
def test_a_query_matches_when_every_word_starts_a_word(query, text):
    assert text_matches(query, text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("net", "internet cabinet"),  # substrings inside a word no longer match
        ("eaker", "sneaker"),
        ("sneaker bag", "sneaker"),  # one query word unmatched
        ("shoe", "Sneaker Ankle boot"),  # no synonyms: only the words a package uses
    ],
)
def test_a_query_does_not_match_inside_words_or_with_a_word_missing(query, text):
    assert not text_matches(query, text)


def test_name_classes_description_and_kind_are_searched():
    sneaker = info(
        "fmnist/sneaker-module", classes=("Sneaker",), description="class 'Sneaker' of fmnist/simcnn"
    )
    boot = info("fmnist/ankle-boot-module", classes=("Ankle boot",), description="footwear, for shoes")
    assert matches("fmnist", sneaker) and matches("sneakers", sneaker) and matches("simcnn", sneaker)
    assert matches("module", sneaker)  # the kind
    assert matches("boots", boot) and matches("shoe", boot) and not matches("shoe", sneaker)
    assert [str(i.name) for i in select("fmnist", [sneaker, boot])] == [
        "fmnist/ankle-boot-module",
        "fmnist/sneaker-module",
    ]


# --- both registries use it ------------------------------------------------------------------------


def _publish_three(root, target):
    target.publish(make_package(root, "fmnist/sneaker-module", classes=("Sneaker",), description="a sneaker"))
    target.publish(
        make_package(root, "fmnist/ankle-boot-module", classes=("Ankle boot",), description="boots and shoes")
    )
    target.publish(make_package(root, "fmnist/bag-module", classes=("Bag",), description="bags and totes"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("shoe", ["fmnist/ankle-boot-module"]),
        ("Boot", ["fmnist/ankle-boot-module"]),
        ("sneakers", ["fmnist/sneaker-module"]),
        ("tote", ["fmnist/bag-module"]),
        ("fmnist module", ["fmnist/ankle-boot-module", "fmnist/bag-module", "fmnist/sneaker-module"]),
        ("net", []),
    ],
)
def test_local_and_hub_registries_answer_a_query_alike(tmp_path, registry, query, expected):
    local = LocalRegistry("local", str(tmp_path / "registry"))
    _publish_three(tmp_path / "for-local", local)
    _publish_three(tmp_path / "for-hub", registry)
    assert [str(i.name) for i in local.search(query)] == expected
    assert [str(i.name) for i in registry.search(query)] == expected


# --- did you mean ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("fmnist/sneakers-module", ["fmnist/sneaker-module"]),  # one letter too many
        ("fminst/sneaker-module", ["fmnist/sneaker-module"]),  # a transposed namespace
        ("FMNIST/Sneaker-Module", ["fmnist/sneaker-module"]),  # case
        ("sneaker-module", ["fmnist/sneaker-module"]),  # the namespace forgotten
        ("digit/mlp", ["digits/mlp"]),
        ("zzz/qqq", []),  # nothing close: no suggestion
    ],
)
def test_suggest_offers_only_the_closest_names(typo, expected):
    assert suggest(typo, NAMES) == expected


def test_suggest_never_offers_the_name_itself_and_honours_the_limit():
    assert "digits/mlp" not in suggest("digits/mlp", NAMES)
    many = [f"fmnist/module-{i}" for i in range(10)]
    assert len(suggest("fmnist/module", many)) == 3 and len(suggest("fmnist/module", many, limit=1)) == 1


def test_did_you_mean_asks_every_registry_and_skips_one_that_cannot_answer(tmp_path, hub, registry):
    local = LocalRegistry("local", str(tmp_path / "registry"))
    local.publish(make_package(tmp_path, "digits/mlp"))
    registry.publish(make_package(tmp_path, "fmnist/sneaker-module"))
    assert local.package_names() == ["digits/mlp"] and registry.package_names() == ["fmnist/sneaker-module"]

    hint = did_you_mean("fmnist/sneakers-module", [local, registry])
    assert hint is not None and hint.startswith("did you mean fmnist/sneaker-module?")
    assert did_you_mean("digit/mlp", [local, registry]).startswith("did you mean digits/mlp?")
    assert did_you_mean("zzz/qqq", [local, registry]) is None

    offline = HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE, offline=True)
    with pytest.raises(OfflineError):
        offline.package_names()
    assert did_you_mean("digit/mlp", [offline, local]).startswith("did you mean digits/mlp?")

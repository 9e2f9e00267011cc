import pytest

from nnpm.errors import InvalidNameError, InvalidVersionError
from nnpm.package.naming import PackageName, Requirement, parse_specifier, parse_version


@pytest.mark.parametrize("text", ["digits/mlp", "cifar10/cat-module", "a1/b-2-c"])
def test_valid_names_round_trip(text):
    assert str(PackageName.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    ["../x", "a/b/c", "Digits/mlp", "", "digits", "a//b", "a/-b", "a/b-", "a/b_c", "/abs", "a/" + "x" * 65],
)
def test_invalid_names_are_refused_with_a_hint(text):
    with pytest.raises(InvalidNameError) as err:
        PackageName.parse(text)
    line = err.value.one_line()
    assert "\n" not in line and "hint:" in line and "namespace/name" in line


def test_requirements_parse_specifiers_and_at_versions():
    assert str(Requirement.parse("digits/mlp")) == "digits/mlp"
    req = Requirement.parse("digits/mlp>=1,<2")
    assert req.allows("1.5") and not req.allows("2.0")
    assert Requirement.parse("digits/mlp@1.0.0").allows("1.0.0")
    assert not Requirement.parse("digits/mlp==1.0.0").allows("1.0.1")


def test_prereleases_only_when_asked():
    req = Requirement.parse("digits/mlp>=1")
    assert not req.allows("2.0rc1")
    assert req.allows("2.0rc1", prereleases=True)


@pytest.mark.parametrize("text", ["1..0", "one", "1.0-final-final"])
def test_invalid_versions(text):
    with pytest.raises(InvalidVersionError, match="invalid version"):
        parse_version(text)


@pytest.mark.parametrize("text", [">>1", "=>1.0", "~1"])
def test_invalid_specifiers(text):
    with pytest.raises(InvalidVersionError, match="invalid version specifier"):
        parse_specifier(text)
    with pytest.raises(InvalidVersionError):
        Requirement.parse(f"digits/mlp{text}")

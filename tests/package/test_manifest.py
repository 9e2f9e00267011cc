import pytest

from nnpm.errors import InvalidInputError, ManifestError
from nnpm.package.manifest import Manifest
from tests.factories import make_manifest


def test_manifest_round_trips_through_toml_with_a_stable_digest():
    manifest = make_manifest(deps={"test/base": "==1.0.0"}, pins={"test/base": "a" * 64})
    again = Manifest.from_toml(manifest.to_toml())
    assert again == manifest
    assert again.digest() == manifest.digest()
    assert again.dependencies[0].sha256 == "a" * 64


def test_malformed_toml_names_the_file_and_line(tmp_path):
    path = tmp_path / "nnpm.toml"
    path.write_text("[package\nname = 1\n")
    with pytest.raises(ManifestError) as err:
        Manifest.read(path)
    assert (
        str(path) in err.value.one_line()
        and "malformed TOML" in err.value.one_line()
        and "line 1" in err.value.one_line()
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace('classes = ["a", "b", "c"]', 'classes = "a"'),
            "source.classes: expected an array",
        ),
        (lambda t: t.replace('kind = "model"', 'kind = "plugin"'), "package.kind: expected one of"),
        (lambda t: t.replace('version = "1.0.0"', 'version = "one"'), "package.version"),
        (lambda t: t.replace('name = "test/mlp"', 'name = "Test/MLP"'), "package.name"),
        (lambda t: t + "\n[colour]\nred = 1\n", "unknown field 'colour'"),
        (lambda t: t.replace('family = "mlp"\n', ""), "missing required field 'family'"),
    ],
)
def test_schema_violations_name_the_field(tmp_path, edit, message):
    path = tmp_path / "nnpm.toml"
    path.write_text(edit(make_manifest().to_toml()))
    with pytest.raises(InvalidInputError) as err:
        Manifest.read(path)
    line = err.value.one_line()
    assert message in line and str(path) in line and "\n" not in line


def test_invalid_dependency_specifier_is_refused():
    text = make_manifest(deps={"test/base": "==1.0.0"}).to_toml().replace('"==1.0.0"', '">>1"')
    with pytest.raises(Exception, match="invalid version specifier"):
        Manifest.from_toml(text)


@pytest.mark.parametrize("path", ["../evil.safetensors", "/etc/passwd", "a/../../b", "nnpm.toml", ".hidden"])
def test_path_traversing_file_entries_are_refused(path):
    text = make_manifest().to_toml() + f'\n[files."{path}"]\nsha256 = "{"0" * 64}"\nsize = 1\n'
    with pytest.raises(ManifestError):
        Manifest.from_toml(text)

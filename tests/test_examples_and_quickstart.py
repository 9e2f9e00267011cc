from pathlib import Path

import pytest

from nnpm import api
from nnpm.package import schema
from nnpm.package.manifest import MANIFEST_NAME, parse_toml
from nnpm.package.pack import check_package
from nnpm.quickstart import run_quickstart

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "packages"


@pytest.mark.parametrize(
    "directory", sorted(p for p in EXAMPLES.iterdir() if (p / MANIFEST_NAME).exists()), ids=str
)
def test_every_example_package_validates_and_publishes(directory):
    schema.validate(
        parse_toml((directory / MANIFEST_NAME).read_text(), where=str(directory)),
        "manifest",
        where=str(directory),
    )
    manifest = check_package(directory)
    assert api.publish(directory).created
    api.install([manifest.id], project=False)
    model = api.load(manifest.id, project=False)
    assert model.manifest.digest() == manifest.digest()


def test_the_example_lock_and_project_files_validate(tmp_path, workdir):
    from nnpm.resolve.lock import read_lock
    from nnpm.resolve.project import init_project

    api.publish(EXAMPLES / "digits-mlp")
    init_project(workdir)
    api.install(["digits/mlp"])
    assert (
        read_lock(workdir / "nnpm.lock").packages[0].name.name == "mlp"
    )  # read_lock validates against the schema


def test_quickstart_trains_publishes_installs_loads_and_evaluates(tmp_path):
    result = run_quickstart(tmp_path)
    assert result.package == "quickstart/digits-mlp==1.0.0"
    assert result.test_accuracy > 0.9
    assert abs(result.test_accuracy - result.claimed_accuracy) < 1e-5
    again = run_quickstart(tmp_path)  # a rerun is reproducible: the same bytes, an idempotent publish
    assert again.package == result.package

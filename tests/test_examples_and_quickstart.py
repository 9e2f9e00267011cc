from pathlib import Path

import pytest

from nnpm import api
from nnpm.api.quickstart import next_free_version, run_quickstart
from nnpm.package import schema
from nnpm.package.manifest import MANIFEST_NAME, parse_toml
from nnpm.package.pack import check_package

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


def test_quickstart_modularizes_publishes_installs_composes_and_evaluates(tmp_path):
    result = run_quickstart(tmp_path)
    assert result.model == "quickstart/simcnn==1.0.0"
    assert [m.package for m in result.modules] == [
        "quickstart/digit-3-module==1.0.0",
        "quickstart/digit-8-module==1.0.0",
    ]
    assert all(m.balanced_accuracy > 0.8 and 0 < m.kernel_retention <= 1 for m in result.modules)
    assert result.composite == "quickstart/three-eight==1.0.0" and result.composite_mode == "fused"
    assert result.composite_accuracy > 0.8
    installed = {f"{p.name}=={p.version}" for p in api.list_installed()}
    assert {result.model, result.composite, *(m.package for m in result.modules)} <= installed
    assert api.verify() == []


def test_a_quickstart_rerun_publishes_the_next_version(tmp_path):
    from tests.factories import publish

    assert next_free_version("quickstart/simcnn", None) == "1.0.0"
    publish(tmp_path, "quickstart/simcnn", "1.0.0")
    publish(tmp_path, "quickstart/simcnn", "1.0.3")
    assert next_free_version("quickstart/simcnn", None) == "1.0.4"

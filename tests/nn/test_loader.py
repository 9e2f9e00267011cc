"""The one loader's dependency sources: build folders beside a package, then the store."""

from __future__ import annotations

import shutil

from nnpm.nn.loader import DirectorySource, Loader, PackageRef, Sources
from nnpm.package.naming import Requirement
from nnpm.resolve.project import init_project
from tests.factories import make_package


def test_a_build_folder_is_found_by_name_and_a_project_file_beside_it_is_not_a_package(tmp_path):
    init_project(tmp_path)  # ./nnpm.toml with a [project] table, as `nnpm init` writes it
    shutil.move(make_package(tmp_path / "made", "test/mlp"), tmp_path / "mlp")
    source = DirectorySource([tmp_path])
    found = source.find(Requirement.parse("test/mlp==1.0.0"))
    assert found == PackageRef(tmp_path / "mlp")
    assert source.find(Requirement.parse("test/other")) is None
    assert source.find(Requirement.parse("test/mlp>=2")) is None


def test_a_pinned_digest_selects_the_build_and_another_build_is_not_taken(tmp_path):
    from nnpm.package.manifest import Manifest

    shutil.move(make_package(tmp_path / "made", "test/mlp"), tmp_path / "mlp")
    digest = Manifest.read(tmp_path / "mlp" / "nnpm.toml").digest()
    source = Sources(DirectorySource([tmp_path]))
    assert source.find(Requirement.parse("test/mlp"), digest) == PackageRef(tmp_path / "mlp")
    assert source.find(Requirement.parse("test/mlp"), "0" * 64) is None
    net = Loader(source).load(PackageRef(tmp_path / "mlp"))
    assert str(net.manifest.name) == "test/mlp" and not net.training

"""One name and version, one digest, everywhere (issue 16, "Integrity").

1. Re-packing a published (or installed) name and version into another digest is refused, so
   `nnpm pack --hub-namespace` cannot give `x==1.0.0` a second digest; a package packed for the
   Hub before its first publish has that one digest in every registry.
2. Installing a name and version whose digest differs from the installed or locked one is refused,
   naming both digests; `--force` replaces it explicitly.
3. `publish_all` checks every package before publishing any, and a rerun after a failure half way
   completes the set (what is already published identically is `created=False`).

docs/bad-input.md ("One digest") lists each case with its message and exit code.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from nnpm import api
from nnpm.errors import ImmutableVersionError, IntegrityError
from nnpm.package.manifest import MANIFEST_NAME, Manifest
from nnpm.package.pack import pack
from nnpm.registry import config as registry_config
from tests.factories import make_package, run_cli


def make_module(root: Path, name: str = "test/mlp-module", version: str = "1.0.0", **kwargs) -> Path:
    """A packed package whose source is the model test/mlp==1.0.0 (so --hub-namespace applies)."""
    directory = make_package(root, name, version, **kwargs)
    manifest = Manifest.read(directory / MANIFEST_NAME)
    source = replace(manifest.source, model="test/mlp", version="1.0.0")
    (directory / MANIFEST_NAME).write_text(replace(manifest, source=source).to_toml())
    pack(directory)
    return directory


def _bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


# --- 1. a digest does not depend on where a package is published ---------------------------------


def test_packing_a_published_version_for_the_hub_is_refused_and_writes_nothing(tmp_path, capsys):
    package = make_module(tmp_path)
    first = api.publish(package)
    before = _bytes(package)
    with pytest.raises(ImmutableVersionError) as err:
        api.pack(package, hub_namespace="my-org")
    line = err.value.one_line()
    assert first.sha256 in line and "registry local" in line and "bump package.version" in line
    assert _bytes(package) == before  # neither the card nor nnpm.toml changed
    code, out, err_text = run_cli(capsys, "pack", str(package), "--hub-namespace", "my-org")
    assert code == 1 and out == "" and len(err_text.strip().splitlines()) == 1
    assert "already has sha256" in err_text and "(hint: " in err_text


def test_packing_an_installed_version_into_another_digest_is_refused(tmp_path):
    package = make_module(tmp_path)
    api.publish(package)
    api.install(["test/mlp-module==1.0.0"], project=False)
    registry_config.add_registry("elsewhere", str(tmp_path / "elsewhere"))
    (tmp_path / "nnpm-home" / "registry").rename(tmp_path / "gone")  # only the store remembers it
    with pytest.raises(ImmutableVersionError, match="installed in the store"):
        api.pack(package, hub_namespace="my-org")


def test_packing_the_same_content_again_is_allowed_and_a_new_version_may_change_the_card(tmp_path):
    package = make_module(tmp_path)
    published = api.publish(package)
    assert api.pack(package).digest() == published.sha256  # re-packing unchanged content is a no-op
    text = (package / MANIFEST_NAME).read_text().replace('version = "1.0.0"', 'version = "1.1.0"', 1)
    (package / MANIFEST_NAME).write_text(text)
    bumped = api.pack(package, hub_namespace="my-org")
    assert "base_model: my-org/test__mlp" in (package / "README.md").read_text()
    assert str(bumped.version) == "1.1.0" and bumped.digest() != published.sha256


def test_a_package_packed_for_the_hub_has_one_digest_in_every_registry(tmp_path):
    package = make_module(tmp_path)
    packed = api.pack(package, hub_namespace="my-org")  # before its first publish: allowed
    registry_config.add_registry("team", str(tmp_path / "team"))
    here, there = api.publish(package), api.publish(package, registry="team")
    assert here.sha256 == there.sha256 == packed.digest()


# --- 2. installing never swaps one digest for another silently ----------------------------------


@pytest.fixture
def two_registries(tmp_path):
    """Registries a and b, each a local folder holding test/mlp==1.0.0 with different bytes."""
    digests = {}
    for name, seed in (("a", 0), ("b", 1)):
        registry_config.add_registry(name, str(tmp_path / f"registry-{name}"))
        digests[name] = api.publish(make_package(tmp_path / name, seed=seed), registry=name).sha256
    assert digests["a"] != digests["b"]
    return digests


def test_installing_another_digest_over_an_installed_copy_is_refused(two_registries, capsys):
    a, b = two_registries["a"], two_registries["b"]
    api.install(["test/mlp==1.0.0"], registry="a", project=False)
    with pytest.raises(IntegrityError) as err:
        api.install(["test/mlp==1.0.0"], registry="b", project=False)
    line = err.value.one_line()
    assert a in line and b in line and "--registry a" in line and "--force" in line
    assert api.list_installed()[0].sha256 == a  # nothing was swapped
    code, _, err_text = run_cli(capsys, "install", "test/mlp==1.0.0", "--registry", "b", "--no-save")
    assert code == 3 and len(err_text.strip().splitlines()) == 1 and a in err_text and b in err_text
    code, _, _ = run_cli(capsys, "install", "test/mlp==1.0.0", "--registry", "b", "--no-save", "--force")
    assert code == 0 and api.list_installed()[0].sha256 == b  # --force is the explicit way


def test_installing_another_digest_than_the_locked_one_is_refused(two_registries, workdir, capsys):
    a, b = two_registries["a"], two_registries["b"]
    assert run_cli(capsys, "init")[0] == 0
    assert run_cli(capsys, "install", "test/mlp==1.0.0", "--registry", "a")[0] == 0
    lock = (workdir / "nnpm.lock").read_text()
    # another digest lands in the store outside the project, explicitly
    assert run_cli(capsys, "install", "test/mlp==1.0.0", "-r", "b", "--no-save", "--force")[0] == 0
    code, _, err_text = run_cli(capsys, "install", "--frozen")  # the lock says a, the store holds b
    assert code == 3 and "nnpm.lock pins test/mlp==1.0.0 to sha256 " + a in err_text and b in err_text
    code, _, err_text = run_cli(capsys, "install", "test/mlp==1.0.0", "--registry", "b")
    assert code == 3 and f"but nnpm.lock pins sha256 {a}" in err_text and b in err_text
    assert (workdir / "nnpm.lock").read_text() == lock and api.list_installed()[0].sha256 == b
    assert run_cli(capsys, "install", "--frozen", "--force")[0] == 0
    assert api.list_installed()[0].sha256 == a


# --- 3. a publish of several packages: checked first, completed by a rerun -------------------------


def _published(registry: str = "local") -> set[str]:
    return {str(i.name) for i in api.search("", registry=registry)}


def test_a_set_that_cannot_all_be_published_publishes_nothing(tmp_path, capsys):
    old = api.publish(make_package(tmp_path / "old", "test/c", seed=9))
    a, b = make_package(tmp_path, "test/a"), make_package(tmp_path, "test/b")
    c = make_package(tmp_path, "test/c", seed=1)  # the registry holds test/c==1.0.0 with another digest
    with pytest.raises(ImmutableVersionError) as err:
        api.publish_all([a, b, c])
    line = err.value.one_line()
    assert old.sha256 in line and Manifest.read(c / MANIFEST_NAME).digest() in line and "bump" in line
    assert _published() == {"test/c"}  # neither a nor b went out
    code, _, err_text = run_cli(capsys, "publish", str(a), str(b), str(c))
    assert code == 1 and len(err_text.strip().splitlines()) == 1 and "nothing of this set" in err_text
    (c / "weights.safetensors").write_bytes(b"\0" * 8)  # a broken third package: also checked first
    code, _, err_text = run_cli(capsys, "publish", str(a), str(b), str(c))
    assert code == 3 and "sha256 mismatch" in err_text and _published() == {"test/c"}
    twin = make_package(tmp_path / "twin", "test/a", seed=5)  # one name and version, two contents
    with pytest.raises(ImmutableVersionError, match="with different content"):
        api.publish_all([a, b, twin])
    assert _published() == {"test/c"}


def test_a_publish_that_fails_on_the_third_package_is_completed_by_the_rerun(tmp_path, monkeypatch):
    from nnpm.errors import WriteError
    from nnpm.registry.local import LocalRegistry

    packages = [make_package(tmp_path, f"test/m{i}", seed=i) for i in range(4)]
    original, calls = LocalRegistry.publish, []

    def full_disk_on_the_third(self, package_dir, manifest=None, progress=None):
        calls.append(package_dir)
        if len(calls) == 3:
            raise WriteError("cannot write: no space left on the disk", where=str(self.root))
        return original(self, package_dir, manifest, progress)

    monkeypatch.setattr(LocalRegistry, "publish", full_disk_on_the_third)
    with pytest.raises(WriteError) as err:
        api.publish_all(packages)
    assert "2 of 4 packages were published before this one: rerun" in err.value.one_line()
    assert len(_published()) == 2
    results = api.publish_all(packages)  # the rerun: the disk has room again
    created = {str(r.manifest.name): r.created for r in results}
    assert sorted(created.values()) == [False, False, True, True] and len(_published()) == 4
    assert {str(i.name) for i in api.search()} == set(created)
    assert not any(r.created for r in api.publish_all(packages))  # and again: nothing to do

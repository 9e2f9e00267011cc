"""Hostile package contents (issue 16): links and anything but regular files in a package directory.

pack, publish, install, load and verify agree on what a package holds: regular files in real
folders. A symbolic link (to a file or a folder), a FIFO or a device is refused with one line
naming it, never followed. docs/bad-input.md lists every case with its message and exit code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnpm import api
from nnpm.errors import IntegrityError, ManifestError
from tests.factories import make_package, publish, run_cli

# --- 1. pack and publish refuse links and special files -------------------------------------------


def _link_in_place_of(path: Path, elsewhere: Path) -> None:
    """Replace `path` by a symbolic link to an identical copy outside the package (so its hash
    still matches: only the link itself is wrong)."""
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, elsewhere)
    path.unlink()
    path.symlink_to(elsewhere)


def test_publish_refuses_a_listed_file_that_is_a_symbolic_link(tmp_path):
    package = make_package(tmp_path)
    _link_in_place_of(package / "weights.safetensors", tmp_path / "outside" / "w.safetensors")
    with pytest.raises(ManifestError, match="'weights.safetensors' is a symbolic link") as err:
        api.publish(package)
    assert str(package) in err.value.one_line() and "hint:" in err.value.one_line()
    assert api.search() == []  # nothing was published


@pytest.mark.parametrize("kind", ["file", "folder", "dangling", "fifo"])
def test_pack_refuses_a_link_or_a_fifo_anywhere_in_the_directory(tmp_path, kind):
    package = make_package(tmp_path)
    odd = package / "extra"
    if kind == "file":
        (tmp_path / "secret.txt").write_text("not part of the package")
        odd.symlink_to(tmp_path / "secret.txt")
    elif kind == "folder":
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets" / "key.txt").write_text("private")
        odd.symlink_to(tmp_path / "secrets", target_is_directory=True)
    elif kind == "dangling":
        odd.symlink_to(tmp_path / "nowhere")
    else:
        os.mkfifo(odd)
    said = "a FIFO" if kind == "fifo" else "a symbolic link"
    before = (package / "nnpm.toml").read_bytes()
    with pytest.raises(ManifestError, match=f"'extra' is {said}, not a regular file"):
        api.pack(package)
    assert (package / "nnpm.toml").read_bytes() == before  # refused before anything was rewritten
    with pytest.raises(ManifestError, match=f"'extra' is {said}"):
        api.publish(package)  # publish agrees with pack: the same refusal, not a silent skip


def test_a_link_inside_a_subfolder_is_refused_with_its_path(tmp_path):
    package = make_package(tmp_path)
    (package / "extra").mkdir()
    (package / "extra" / "notes.txt").symlink_to("/etc/hostname")
    with pytest.raises(ManifestError, match="'extra/notes.txt' is a symbolic link"):
        api.pack(package)


def test_a_linked_nnpm_toml_is_refused(tmp_path):
    package = make_package(tmp_path)
    _link_in_place_of(package / "nnpm.toml", tmp_path / "outside" / "nnpm.toml")
    with pytest.raises(ManifestError, match="'nnpm.toml' is a symbolic link"):
        api.publish(package)


def test_hidden_entries_are_not_part_of_a_package_and_are_not_followed(tmp_path):
    package = make_package(tmp_path)
    (package / ".cache").symlink_to(tmp_path)
    assert api.pack(package).files.keys() == {"README.md", "weights.safetensors"}
    assert api.publish(package).created


def test_nnpm_publish_of_a_linked_file_is_one_line_exit_1(tmp_path, capsys):
    package = make_package(tmp_path)
    _link_in_place_of(package / "README.md", tmp_path / "outside" / "README.md")
    code, _, err = run_cli(capsys, "publish", str(package))
    assert code == 1 and err.startswith("nnpm: error: ") and err.count("\n") == 1
    assert "'README.md' is a symbolic link" in err


def test_loading_a_directory_with_a_link_is_refused(tmp_path):
    package = make_package(tmp_path)
    _link_in_place_of(package / "weights.safetensors", tmp_path / "outside" / "w.safetensors")
    with pytest.raises(ManifestError, match="is a symbolic link"):
        api.load(package, project=False)


# --- 2. install never opens a FIFO or follows a link planted in the registry -------------------------


def test_a_fifo_planted_as_a_registry_blob_fails_install_at_once(tmp_path, nnpm_home):
    result = publish(tmp_path)
    blob = next(p for p in (nnpm_home / "registry" / "blobs").rglob("*") if p.is_file())
    blob.unlink()
    os.mkfifo(blob)
    code = "from nnpm import api\napi.install(['test/mlp'], project=False)\n"
    env = {**os.environ, "NNPM_HOME": str(nnpm_home)}
    done = subprocess.run(  # a deadline: an install that blocks on the FIFO fails instead of hanging
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode != 0 and "RegistryError" in done.stderr and "a FIFO" in done.stderr
    assert result.created and not (nnpm_home / "store" / "packages").exists()


def test_a_blob_replaced_by_a_link_in_the_store_is_fetched_again(tmp_path, nnpm_home):
    publish(tmp_path)
    (pkg,) = api.install(["test/mlp"], project=False).packages
    weights = pkg.manifest.files["weights.safetensors"].sha256
    blob = nnpm_home / "store" / "blobs" / "sha256" / weights[:2] / weights
    _link_in_place_of(blob, tmp_path / "outside" / "blob")
    api.install(["test/mlp"], project=False, force=True)
    assert not blob.is_symlink() and blob.is_file() and api.verify() == []


# --- 3. verify and load notice extra files and files replaced by links in an installed package -------


@pytest.fixture
def installed(tmp_path):
    publish(tmp_path)
    (pkg,) = api.install(["test/mlp"], project=False).packages
    return pkg


def test_verify_notices_an_extra_file_in_an_installed_package(installed):
    (installed.path / "payload.py").write_text("print('hi')\n")
    (installed.path / ".hidden").write_text("")  # hidden or not: an installed folder holds only its files
    problems = api.verify()
    assert [(p.package, p.path.name) for p in problems] == [
        ("test/mlp==1.0.0", ".hidden"),
        ("test/mlp==1.0.0", "payload.py"),
    ]
    assert all("extra file" in p.what and "--force" in p.hint for p in problems)
    api.install(["test/mlp"], project=False)  # plain install notices and repairs it
    assert api.verify() == [] and not (installed.path / "payload.py").exists()


def test_verify_notices_a_file_replaced_by_a_link_with_the_same_bytes(tmp_path, installed, capsys):
    _link_in_place_of(installed.path / "weights.safetensors", tmp_path / "outside" / "w.safetensors")
    (problem,) = api.verify()
    assert "'weights.safetensors' listed in the manifest is a symbolic link" in problem.what
    code, _, err = run_cli(capsys, "verify")
    assert code == 3 and "symbolic link" in err and "hint:" in err
    with pytest.raises(IntegrityError, match="is a symbolic link"):
        api.load("test/mlp", project=False)


def test_verify_notices_a_fifo_in_an_installed_package_without_hanging(installed):
    os.mkfifo(installed.path / "pipe")
    (problem,) = api.verify()
    assert "'pipe' is a FIFO" in problem.what and problem.path == installed.path / "pipe"


# --- 4. a composite's modules are its dependencies -------------------------------------------------


def _composite(directory: Path, modules: list[str], deps: list[str]):
    from dataclasses import replace

    from nnpm.package.manifest import Architecture
    from nnpm.package.writer import write_package
    from tests.factories import ARCH, make_manifest

    params = {"rule": "argmax-calibrated", "modules": modules, "classes": ["a", "b", "c"], "finetuned": False}
    manifest = replace(
        make_manifest("test/combo", deps={d: "==1.0.0" for d in deps}),
        kind="composite",
        architecture=Architecture("composite", ARCH.input, params),
    )
    return write_package(directory, manifest, {})


def test_a_composite_naming_a_module_outside_its_dependencies_is_refused(tmp_path, capsys):
    with pytest.raises(ManifestError, match="modules names test/b, which is not among \\[dependencies\\]"):
        _composite(tmp_path / "bad", ["test/a", "test/b"], ["test/a"])  # at pack
    good = tmp_path / "combo"
    _composite(good, ["test/a", "test/b"], ["test/a", "test/b"])
    text = (good / "nnpm.toml").read_text()
    (good / "nnpm.toml").write_text(
        "\n".join(line for line in text.splitlines() if '"test/b"' not in line or "modules" in line) + "\n"
    )
    code, _, err = run_cli(capsys, "publish", str(good))  # and at publish, after a hand edit
    assert code == 1 and err.count("\n") == 1 and "test/b, which is not among [dependencies]" in err


# --- 5. the card is the one nnpm renders --------------------------------------------------------


def _rehash_card(package: Path, text: str) -> None:
    """Write `text` as README.md and list its real hash, as a hand edit of both files would."""
    from nnpm.package.manifest import FileEntry, Manifest, sha256_bytes

    data = text.encode("utf-8")
    (package / "README.md").write_bytes(data)
    manifest = Manifest.read(package / "nnpm.toml")
    files = dict(manifest.files) | {"README.md": FileEntry(sha256_bytes(data), len(data))}
    (package / "nnpm.toml").write_text(manifest.with_files(files, where=str(package)).to_toml())


def test_a_hand_written_card_with_its_hash_listed_is_not_published(tmp_path, capsys):
    package = make_package(tmp_path)
    _rehash_card(package, "# test/mlp\n\nThe best model in the world: 100% accuracy.\n")
    code, _, err = run_cli(capsys, "publish", str(package))
    assert code == 1 and err.count("\n") == 1
    assert "README.md is not the card nnpm renders from nnpm.toml: it has no model-card metadata" in err
    assert "package.description" in err and api.search() == []


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda t: t.replace("license: mit", "license: apache-2.0"), "its metadata is not the manifest's"),
        (lambda t: t.replace("| kind | model |", "| kind | model, state of the art |"), "line 31 differs"),
        (lambda t: t.replace("library_name: nnpm", "library_name: [nnpm"), "its metadata does not parse"),
    ],
    ids=["metadata", "body", "yaml"],
)
def test_a_generated_card_edited_by_hand_is_not_published(tmp_path, edit, said):
    package = make_package(tmp_path)
    card = (package / "README.md").read_text()
    assert edit(card) != card  # the edit applies to this card
    _rehash_card(package, edit(card))
    with pytest.raises(ManifestError, match=said):
        api.publish(package)


def test_the_hub_namespace_card_of_pack_is_published(tmp_path):
    from nnpm.package.pack import pack

    package = make_package(tmp_path)
    pack(package, base_model_repo="team/test--model")
    assert "base_model: team/test--model" in (package / "README.md").read_text()
    assert api.publish(package).created


def test_pack_refuses_to_overwrite_a_readme_a_person_wrote(tmp_path, capsys):
    package = make_package(tmp_path)
    (package / "README.md").write_text("# My notes\n\nKeep these.\n")
    before = (package / "nnpm.toml").read_bytes()
    code, _, err = run_cli(capsys, "pack", str(package))
    assert code == 1 and err.count("\n") == 1 and "README.md was not written by nnpm" in err
    assert (package / "README.md").read_text() == "# My notes\n\nKeep these.\n"
    assert (package / "nnpm.toml").read_bytes() == before
    (package / "README.md").unlink()
    assert run_cli(capsys, "pack", str(package))[0] == 0  # nnpm's own card is replaced freely
    assert run_cli(capsys, "pack", str(package))[0] == 0

import struct

import pytest

from nnpm.errors import IntegrityError, ManifestError, WeightsError
from nnpm.fsutil import atomic_write_text
from nnpm.package.manifest import Manifest
from nnpm.package.pack import check_package, pack
from tests.factories import make_package


def test_pack_lists_every_file_with_its_hash_and_renders_the_card(tmp_path):
    directory = make_package(tmp_path)
    manifest = check_package(directory)
    assert set(manifest.files) == {"README.md", "weights.safetensors"}
    card = (directory / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: nnpm" in card and "test/mlp" in card


def test_a_changed_weights_file_is_an_integrity_error_naming_both_hashes(tmp_path):
    directory = make_package(tmp_path)
    expected = Manifest.read(directory / "nnpm.toml").files["weights.safetensors"].sha256
    data = bytearray((directory / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (directory / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as err:
        check_package(directory)
    assert (
        expected in str(err.value) and "weights.safetensors" in str(err.value) and "found" in str(err.value)
    )


def test_a_missing_weights_file_is_reported(tmp_path):
    directory = make_package(tmp_path)
    (directory / "weights.safetensors").unlink()
    with pytest.raises(IntegrityError, match="weights.safetensors.*missing"):
        check_package(directory)


def test_an_unlisted_file_is_refused(tmp_path):
    directory = make_package(tmp_path)
    (directory / "extra.bin").write_bytes(b"x")
    with pytest.raises(ManifestError, match="extra.bin"):
        check_package(directory)


def _repack_with(directory, data: bytes):
    (directory / "weights.safetensors").write_bytes(data)
    return pack(directory)


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    directory = make_package(tmp_path)
    data = (directory / "weights.safetensors").read_bytes()
    with pytest.raises(WeightsError, match="truncated"):
        _repack_with(directory, data[: len(data) // 2])


def test_an_absurd_header_length_is_refused(tmp_path):
    directory = make_package(tmp_path)
    data = (directory / "weights.safetensors").read_bytes()
    with pytest.raises(WeightsError, match="header length"):
        _repack_with(directory, struct.pack("<Q", 2**60) + data[8:])


def test_a_file_shorter_than_its_header_length_field_is_refused(tmp_path):
    directory = make_package(tmp_path)
    with pytest.raises(WeightsError, match="truncated"):
        _repack_with(directory, b"\x01\x02")


def test_shapes_that_do_not_match_the_architecture_are_refused_before_loading(tmp_path):
    directory = make_package(tmp_path)
    text = (directory / "nnpm.toml").read_text().replace("hidden = [8]", "hidden = [9]")
    atomic_write_text(directory / "nnpm.toml", text)
    with pytest.raises(WeightsError) as err:
        pack(directory)
    assert "layers.0.weight" in str(err.value) and "[8, 64]" in str(err.value) and "[9, 64]" in str(err.value)


def test_an_unknown_family_is_refused(tmp_path):
    directory = make_package(tmp_path)
    atomic_write_text(
        directory / "nnpm.toml", (directory / "nnpm.toml").read_text().replace('"mlp"', '"transformer"')
    )
    with pytest.raises(Exception, match="unknown architecture family 'transformer'"):
        pack(directory)


def test_the_card_is_hugging_face_metadata_and_its_bytes_are_reproducible(tmp_path):
    from huggingface_hub import ModelCard

    from nnpm.package.card import render_card
    from nnpm.package.manifest import Manifest

    manifest = Manifest.read(make_package(tmp_path) / "nnpm.toml")
    text = render_card(manifest, base_model_repo="my-org/test__mlp")
    assert text == render_card(manifest, base_model_repo="my-org/test__mlp")
    data = ModelCard(text).data
    assert (data.library_name, data.base_model, data.model_name) == ("nnpm", "my-org/test__mlp", "test/mlp")
    assert f"nnpm-{manifest.kind}" in data.tags
    if manifest.metrics.accuracy:
        assert data.eval_results[0].metric_value == manifest.metrics.accuracy.value

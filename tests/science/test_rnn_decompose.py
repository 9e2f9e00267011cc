"""Decomposition: statistics, physical removal, channeling, packages and embedding compatibility."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from nnpm.datasets import brown
from nnpm.errors import CompositionError
from nnpm.nn.rnn.model import Embedding, SequenceNet
from nnpm.nn.rnn.spec import CELLS
from nnpm.package.pack import check_package
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import packaging as pk
from nnpm.science.rnn import pipeline
from nnpm.science.rnn.train import TrainConfig, accuracy_of

SLICE = Path(__file__).parents[1] / "data" / "brown-slice"
CONFIG = TrainConfig(cell="lstm", layers=2, hidden=24, embedding_dim=16, epochs=4, batch_size=32, lr=1e-2)
SMALL = dec.DecomposeConfig(positives=100, pool=300, refit_sequences=300)


@pytest.fixture(scope="module")
def data():
    return brown.load(SLICE, max_len=20)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    return out, pipeline.train_model(data, CONFIG, out, "brown", data_provenance={"data_dir": str(SLICE)})


def test_robust_mean_ignores_outliers():
    values = torch.tensor([[1.0, 0.0], [1.1, 0.0], [0.9, 0.0], [1.0, 0.0], [100.0, 8.0]])
    mean = dec.robust_mean(values)
    assert mean[0] == pytest.approx(1.0) and mean[1] == 0.0


def test_sampling_is_seeded_and_spreads_negatives():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 30)
    pos, neg = dec.sample_concern(labels, 0, 20, torch.Generator().manual_seed(0))
    pos2, _ = dec.sample_concern(labels, 0, 20, torch.Generator().manual_seed(0))
    assert torch.equal(pos, pos2) and len(pos) == 20
    assert (labels[neg] == 1).sum() == 10 and (labels[neg] == 2).sum() == 10


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("per_step", [True, False])
def test_physically_pruned_module_equals_zeroed_full_network(cell, per_step):
    torch.manual_seed(0)
    net = SequenceNet(Embedding(30, 8), cell, [10, 9, 7], 5, per_step, "logits").eval()
    keep = [torch.tensor([0, 2, 3, 7, 9]), torch.tensor([1, 4, 5, 8]), torch.tensor([0, 6])]
    x = torch.randint(1, 30, (4, 11))
    x[0, 6:] = 0  # padding
    small, zeroed = dec.prune(net, keep), dec.zero_units(net, keep)
    assert small.rnn.sizes == [5, 4, 2]
    with torch.no_grad():
        torch.testing.assert_close(small(x), zeroed(x), atol=1e-6, rtol=0)
        assert not torch.allclose(zeroed(x), net(x), atol=1e-3)  # the removal does change the network
        removed = [h[..., torch.tensor([1, 4, 5, 6, 8])] for h in zeroed.features(x)[:1]]
        assert float(removed[0].abs().max()) == 0.0  # removed units output exactly 0 at every step


def _held_forward(net: SequenceNet, keep, fill, x):
    """The full network stepped with torch's cells, every removed unit held at its fill value at every
    step (and in the initial state): the reference a pruned module with fill must equal."""
    cells = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
    inp = net.embedding(x)
    for layer, kp, m in zip(net.rnn.layers, keep, fill, strict=True):
        cell = cells[net.rnn.cell](layer.input_size, layer.hidden_size)
        cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
        removed = torch.ones(layer.hidden_size, dtype=torch.bool)
        removed[kp] = False
        h = torch.where(removed, m, torch.zeros_like(m)).expand(x.shape[0], -1)
        c, outs = torch.zeros_like(h), []
        for t in range(x.shape[1]):
            h, c = cell(inp[:, t], (h, c)) if net.rnn.cell == "lstm" else (cell(inp[:, t], h), c)
            h = torch.where(removed, m, h)
            outs.append(h)
        inp = torch.stack(outs, 1)
    return net.head(inp)


@pytest.mark.parametrize("cell", CELLS)
def test_mean_fill_folds_removed_units_into_the_biases_exactly(cell):
    torch.manual_seed(1)
    net = SequenceNet(Embedding(30, 8), cell, [10, 9], 5, True, "logits").eval()
    keep = [torch.tensor([0, 2, 3, 7, 9]), torch.tensor([1, 4, 5, 8])]
    fill = [torch.rand(10) - 0.5, torch.rand(9) - 0.5]
    x = torch.randint(1, 30, (4, 7))
    with torch.no_grad():
        torch.testing.assert_close(dec.prune(net, keep, fill=fill)(x), _held_forward(net, keep, fill, x),
                                   atol=1e-5, rtol=0)  # fmt: skip
        zeros = [torch.zeros(10), torch.zeros(9)]
        torch.testing.assert_close(
            dec.prune(net, keep, fill=zeros)(x), dec.prune(net, keep)(x), atol=0, rtol=0
        )


def test_mean_fill_decomposes_and_unknown_fills_are_refused(data, trained):
    from nnpm.errors import ArchitectureError

    net = trained[1]["net"]
    result = dec.decompose(net, data, replace(SMALL, cap=0.2, fill="mean"), classes=[0, 5])
    assert [m.index for m in result.modules] == [0, 5]
    with pytest.raises(ArchitectureError, match="unknown setting 'median'"):
        dec.decompose(net, data, replace(SMALL, fill="median"))
    with pytest.raises(ArchitectureError, match="unknown setting 'teacher'"):
        dec.decompose(net, data, replace(SMALL, refit_target="teacher"))


def test_refit_to_the_models_own_probabilities(data, trained):
    net = trained[1]["net"]
    labels = dec.decompose(net, data, replace(SMALL, cap=0.2), classes=[5]).modules[0].net
    model = (
        dec.decompose(net, data, replace(SMALL, cap=0.2, refit_target="model"), classes=[5]).modules[0].net
    )
    assert not torch.allclose(labels.head.weight, model.head.weight)
    out = model(data.test.x[:3])
    assert out.shape == (3, data.max_len, 1) and bool((out <= 0).all())


def test_decomposition_makes_one_calibrated_module_per_tag(data, trained):
    _, built = trained
    net, mono = built["net"], built["accuracy"]
    result = dec.decompose(net, data, SMALL)
    assert [m.cls for m in result.modules] == list(data.classes)
    for m in result.modules:
        for kept, size in zip(m.keep, net.rnn.sizes, strict=True):
            assert size - len(kept) <= int(result.cap * size + 1e-9)
        out = m.net(data.test.x[:3])
        assert out.shape == (3, data.max_len, 1) and bool((out <= 0).all())
    pred = dec.compose_predict([m.net for m in result.modules], data.test.x)
    composed = accuracy_of(pred, data.test.y)
    assert mono > 0.5
    assert composed > mono - 0.05


def test_paper_mode_uses_the_uncalibrated_channel(data, trained):
    _, built = trained
    result = dec.decompose(
        built["net"], data, dec.DecomposeConfig(mode="paper", positives=50, pool=200), classes=[5]
    )
    module = result.modules[0].net
    head = dec.channel_head(built["net"], 5, result.modules[0].keep[-1])
    torch.testing.assert_close(module.head.weight, head.weight)


def test_packages_pin_the_embedding_and_load_back(data, trained):
    out, built = trained
    emb, model = built["embedding"], built["model"]
    assert emb.kind == "embedding" and (out / "embedding" / "vocab.json").is_file()
    assert model.name.name == "lstm-tagger" and model.architecture.vocabulary == "brown/embedding"
    (dep,) = model.dependencies
    assert (
        str(dep.name) == "brown/embedding" and str(dep.specifier) == "==1.0.0" and dep.sha256 == emb.digest()
    )
    check_package(out / "lstm-tagger")
    manifest, net, emb_manifest = pk.load_directory(out / "lstm-tagger")
    assert emb_manifest.digest() == emb.digest()
    with torch.no_grad():
        torch.testing.assert_close(net(data.test.x[:5]), built["net"](data.test.x[:5]))

    mods = pipeline.decompose_model(
        model, built["net"], emb, data, out / "modules", SMALL, classes=["NOUN", "."]
    )
    names = [str(m.name) for m in mods["modules"]]
    assert names == ["brown/noun-module", "brown/punct-module"]
    noun = mods["modules"][0]
    assert {str(d.name): d.sha256 for d in noun.dependencies} == {
        "brown/embedding": emb.digest(),
        "brown/lstm-tagger": model.digest(),
    }
    assert noun.source.sha256 == model.digest() and noun.source.classes == ("NOUN",)
    assert noun.metrics.unit == "units" and noun.metrics.total == 48 and 0 < noun.metrics.retained <= 48
    assert noun.metrics.extra["retained_per_layer"] == [len(r) for r in noun.architecture.retained.values()]
    check_package(out / "modules" / "noun-module")
    _, module_net, _ = pk.load_directory(out / "modules" / "noun-module", search=[out])
    with torch.no_grad():
        torch.testing.assert_close(
            module_net(data.test.x[:4]), mods["result"].modules[0].net(data.test.x[:4])
        )


def test_training_on_an_existing_embedding_keeps_it_and_clashes_are_named(data, trained, tmp_path):
    out, built = trained
    emb = built["embedding"]
    before = built["net"].embedding.weight.clone()
    other = pipeline.train_model(
        data, TrainConfig(cell="gru", layers=1, hidden=12, embedding_dim=16, epochs=1), tmp_path, "brown",
        embedding=(emb, built["net"].embedding),
    )  # fmt: skip
    assert torch.equal(before, built["net"].embedding.weight)  # frozen
    assert other["model"].dependencies[0].sha256 == emb.digest()
    assert pk.check_embeddings([built["model"], other["model"]]).startswith("brown/embedding==1.0.0")

    fresh = pipeline.train_model(data, TrainConfig(cell="rnn", layers=1, hidden=8, embedding_dim=16, epochs=1),
                                 tmp_path / "fresh", "news")  # fmt: skip
    with pytest.raises(CompositionError, match="brown/embedding==1.0.0.*news/embedding==1.0.0"):
        pk.check_embeddings([built["model"], fresh["model"]])

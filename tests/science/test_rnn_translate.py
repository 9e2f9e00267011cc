"""Encoder-decoder language modules, BLEU, routing and the add-a-language scenario (tiny sizes)."""

from __future__ import annotations

import pytest
import torch

from nnpm.datasets import num2words_data
from nnpm.datasets.vocab import Vocab
from nnpm.errors import CompositionError
from nnpm.nn.bleu import corpus_bleu
from nnpm.nn.rnn.infer import route
from nnpm.science.rnn import decompose as dec
from nnpm.science.rnn import packaging as pk
from nnpm.science.rnn import translate as tr
from nnpm.science.rnn.train import TrainConfig

CFG = TrainConfig(cell="gru", layers=2, hidden=16, embedding_dim=8, epochs=2, batch_size=32, lr=1e-2)
DCFG = dec.DecomposeConfig(cap=0.2, positives=100, pool=200)


def test_bleu_counts_4_grams_and_brevity():
    ref = list("quatre-vingt")
    assert corpus_bleu([ref], [ref]) == pytest.approx(1.0)
    assert corpus_bleu([ref[:6]], [ref], 1) == pytest.approx(torch.exp(torch.tensor(1 - 12 / 6)).item())
    shuffled = ["q", "t", "a", "u", "r", "e"]  # same letters, no shared 4-gram
    assert corpus_bleu([shuffled], [list("quatre")], 1) == pytest.approx(1.0)
    assert corpus_bleu([shuffled], [list("quatre")], 4) == 0.0


def test_numbers_split_by_number_and_language_tokens_reserved():
    data = num2words_data.load(languages=("fr", "de"), limit=100)
    train_src = {tuple(r) for r in data.train.x.tolist()}
    assert not train_src & {tuple(r) for r in data.test.x.tolist()}
    assert "<2it>" in data.vocab.tokens and data.classes == ("fr", "de")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    data_a = num2words_data.load(languages=("fr", "de"), vocab_languages=("fr", "de", "it"), limit=150)
    prov_a = {"languages": ["fr", "de"], "vocab_languages": ["fr", "de", "it"], "limit": 150}
    a = tr.train_model(data_a, CFG, root / "a", "numbers", data_provenance=prov_a)
    data_b = num2words_data.load(languages=("fr", "it"), vocab=Vocab(a["net"].embedding.tokens), limit=150)
    b = tr.train_model(data_b, CFG, root / "b", "numbers-b", embedding=(a["embedding"], a["net"].embedding),
                       data_provenance={"languages": ["fr", "it"], "limit": 150})  # fmt: skip
    return root, data_a, a, data_b, b


def test_language_module_prunes_only_the_decoder(two_models):
    root, data_a, a, _, _ = two_models
    done = tr.decompose_model(a["model"], a["net"], a["embedding"], data_a, root / "a", DCFG)
    fr = done["modules"][0]
    assert str(fr.name) == "numbers/fr-module" and fr.source.classes == ("fr",)
    params = fr.architecture.params
    assert params["encoder_sizes"] == [16, 16] and all(s <= 16 for s in params["decoder_sizes"])
    assert sum(params["decoder_sizes"]) < 32  # some decoder units were removed
    assert fr.metrics.retained == sum(params["decoder_sizes"]) and fr.metrics.total == 32
    net = done["nets"]["fr"]
    with pytest.raises(Exception, match="does not serve"):
        net.generate(data_a.test.x[:2], "de", 5, 2)
    out = net(data_a.test.x[:2], torch.ones(2, 3, dtype=torch.int64))
    assert torch.allclose(out.exp().sum(-1), torch.ones(2, 3), atol=1e-4)  # log-probabilities


def test_add_a_language_from_a_second_model_on_the_same_embedding(two_models):
    root, data_a, a, data_b, b = two_models
    tr.decompose_model(a["model"], a["net"], a["embedding"], data_a, root / "a", DCFG)
    tr.decompose_model(b["model"], b["net"], a["embedding"], data_b, root / "b", DCFG, languages=["it"])
    loaded = [
        pk.load_directory(root / "a" / "fr-module"),
        pk.load_directory(root / "b" / "it-module", search=[root / "a"]),
    ]
    assert pk.check_embeddings([m for m, _, _ in loaded]).startswith("numbers/embedding==1.0.0")
    data = num2words_data.load(languages=("fr", "it"), vocab=Vocab(a["net"].embedding.tokens), limit=150)
    langs = [data.classes[g] for g in data.test.group.tolist()]
    hyps = route([n for _, n, _ in loaded], data.test.x, langs, data.max_len, data.meta["eos_id"])
    assert len(hyps) == len(langs)
    with pytest.raises(CompositionError, match="no module serves de"):
        route([n for _, n, _ in loaded], data.test.x[:1], ["de"], 5, data.meta["eos_id"])
    scores = tr.bleu_scores([n for _, n, _ in loaded], data)
    assert 0.0 <= scores["bleu4"] <= scores["bleu1"] <= 1.0


def test_add_a_language_through_the_package_manager(two_models, tmp_path, capsys):
    """Publish both translators' modules, compose fr (model a) + it (model b), write, load, eval."""
    from nnpm import api
    from nnpm.api import compose, compose_package
    from nnpm.nn.composite.model import Router

    root, data_a, a, data_b, b = two_models
    tr.decompose_model(a["model"], a["net"], a["embedding"], data_a, root / "a", DCFG)
    tr.decompose_model(b["model"], b["net"], a["embedding"], data_b, root / "b", DCFG, languages=["it"])
    for path in ("a/embedding", "a/gru-translator", "a/fr-module", "b/gru-translator", "b/it-module"):
        api.publish(root / path)
    api.install(["numbers/fr-module", "numbers-b/it-module"], project=False)

    translator = compose("numbers/fr-module", "numbers-b/it-module", project=False)
    assert isinstance(translator, Router) and translator.classes == ("fr", "it")
    src = data_b.test.x[:4]
    hyps = translator.generate(src, ["it", "fr", "it", "fr"], data_b.max_len, data_b.meta["eos_id"])
    eos = data_b.meta["eos_id"]
    for i, lang, name in ((0, "it", "numbers-b/it-module"), (1, "fr", "numbers/fr-module")):
        alone = api.load(name, project=False).generate(src[[i]], lang, data_b.max_len, eos)[0].tolist()
        assert hyps[i] == (alone[: alone.index(eos)] if eos in alone else alone)  # routed to that module

    report = compose_package(["numbers/fr-module", "numbers-b/it-module"], name="numbers/fr-it", out=tmp_path / "fr-it",
                             dataset="num2words")  # fmt: skip
    params = report.manifest.architecture.params
    assert params["rule"] == "route-by-language" and report.after.metric.startswith("bleu-4")
    assert 0.0 <= report.after.value <= 1.0 and report.after.samples > 0
    deps = {str(d.name) for d in report.manifest.dependencies}
    assert deps == {"numbers/fr-module", "numbers-b/it-module", "numbers/embedding"}  # one shared embedding
    api.publish(tmp_path / "fr-it")
    api.install(["numbers/fr-it"], project=False)
    from nnpm.cli import main

    capsys.readouterr()
    main(["show", "numbers/fr-it"])
    assert "each request routed to the module serving its language" in capsys.readouterr().out
    again = api.evaluate("numbers/fr-it")
    assert again.value == pytest.approx(report.after.value) and again.claimed == pytest.approx(
        report.after.value, abs=1e-6
    )
    assert again.same_data is True  # measured on its own languages, as its claim was


def test_eval_of_a_language_module_reproduces_its_claim(two_models):

    root, data_a, a, _, _ = two_models
    from nnpm import api

    tr.decompose_model(a["model"], a["net"], a["embedding"], data_a, root / "a", DCFG)
    for path in ("embedding", "gru-translator", "de-module"):
        api.publish(root / "a" / path)
    api.install(["numbers/de-module"], project=False)
    result = api.evaluate("numbers/de-module")
    assert result.metric.startswith("bleu-4") and result.value == pytest.approx(result.claimed, abs=1e-6)
    model = api.evaluate("numbers/gru-translator")
    assert model.value == pytest.approx(model.claimed, abs=1e-6)


def test_translation_and_classification_modules_are_not_mixed(two_models):
    import dataclasses
    from types import SimpleNamespace

    from nnpm.composition.assemble import Part, check_compatible

    root, data_a, a, _, _ = two_models
    tr.decompose_model(a["model"], a["net"], a["embedding"], data_a, root / "a", DCFG)
    fr, _, _ = pk.load_directory(root / "a" / "fr-module")
    tagger = dataclasses.replace(fr, architecture=dataclasses.replace(fr.architecture, family="rnn-tagger"))
    parts = [Part(SimpleNamespace(manifest=m), m.digest()) for m in (fr, tagger)]
    with pytest.raises(CompositionError, match="one translates, the other classifies"):
        check_compatible(parts)

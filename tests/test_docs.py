"""Every fenced shell command in README.md and docs/*.md runs as written, and every doc the code cites exists.

A fenced block is shell when its info string is bash, sh, shell or console, or when it has none
and its first line starts with a command (COMMAND_WORDS). Each command runs with bash in a
sandbox: a temporary working directory (holding copies of benchmarks/ and examples/, as in a
clone of the repository) and a temporary NNPM_HOME and HF_HOME, one sandbox per document
except for the documents in CONTINUES, which carry on in the sandbox of the one they build on.
Commands run in document order and must exit 0.

Nothing is rewritten by guessing. Three tables (tests/doc_tables.py) say what differs from the text, each with
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

from tests.doc_tables import (
    BROWN,
    CONTINUES,
    FMNIST,
    HUB,
    IMAGE_DATA,
    NEEDS_OCI,
    OCI,
    SKIP,
    SMALL,
    SUBSTITUTE,
    TRAINS,
)

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_INFO = {"bash", "sh", "shell", "console"}
#: An untagged fenced block whose first line starts with one of these is shell; other untagged
#: blocks (layouts, error messages) are not.
COMMAND_WORDS = {"nnpm", "python", "pip", "npm", "hf", "apt-get", "mkdir", "tar", "cd", "export"}


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
def oci_host(tmp_path_factory) -> Iterator[str | None]:
    """host:port of a docker-registry on loopback for the README's OCI section; None without one."""
    from nnpm.testing.oci_registry import REGISTRY_BIN, docker_registry

    if not REGISTRY_BIN.exists():
        yield None
        return
    with docker_registry(tmp_path_factory.mktemp("oci-registry")) as running:
        yield running.host


@pytest.fixture(scope="session")
def sandboxes() -> dict[str, Sandbox]:
    """Sandboxes by document name, made on first use (see CONTINUES)."""
    return {}


@pytest.fixture(scope="session")
def substitutes(tmp_path_factory, hub_endpoint, oci_host) -> dict[str, str]:
    root = tmp_path_factory.mktemp("substitutes")
    return {
        FMNIST: str(fashion_mnist_substitute(root / "fashion-mnist")),
        BROWN: str(REPO / "tests" / "data" / "brown-slice"),
        HUB: hub_endpoint[0],
        OCI: oci_host or "",
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
        if NEEDS_OCI.search(command.text) and not substitutes[OCI]:
            pytest.skip("docker-registry is not installed (Debian: apt-get install docker-registry)")
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

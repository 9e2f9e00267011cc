"""The project file: `nnpm.toml` with a [project] table at a project's root.

    [project]
    name = "my-classifier"
    dependencies = ["fmnist/sneaker-module>=1", "fmnist/ankle-boot-module"]

It plays the role of pyproject.toml's dependency list; nnpm.lock beside it records the
exact resolution. (A package's own nnpm.toml has a [package] table instead.) Edits
go through tomlkit so that a user's comments and layout survive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnpm.errors import ManifestError
from nnpm.fsutil import atomic_write_text
from nnpm.package import schema
from nnpm.package.files import read_text_file
from nnpm.package.manifest import MANIFEST_NAME, parse_toml
from nnpm.package.naming import Requirement
from nnpm.resolve.lock import LOCK_NAME


@dataclass(frozen=True)
class Project:
    root: Path
    requirements: tuple[Requirement, ...]
    registry: str | None = None
    prereleases: bool = False

    @property
    def file(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_NAME


def _is_project_file(path: Path) -> bool:
    try:
        return "project" in parse_toml(read_text_file(path), where=str(path))
    except OSError:
        return False


def find_project(start: Path | None = None) -> Project | None:
    """The nearest directory at or above `start` whose nnpm.toml has a [project] table."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / MANIFEST_NAME
        if candidate.is_file() and _is_project_file(candidate):
            return read_project(directory)
    return None


def read_project(root: Path) -> Project:
    path = root / MANIFEST_NAME
    doc = parse_toml(read_text_file(path), where=str(path))
    schema.validate(doc, "project", where=str(path))
    table = doc["project"]
    reqs = tuple(
        Requirement.parse(text, where=f"{path}: project.dependencies")
        for text in table.get("dependencies", [])
    )
    return Project(root, reqs, table.get("registry"), bool(table.get("prereleases", False)))


def init_project(root: Path, name: str | None = None) -> Project:
    import tomlkit  # writing only: reading is tomllib's, and tomlkit costs start-up

    path = root / MANIFEST_NAME
    if path.exists():
        raise ManifestError(
            "nnpm.toml already exists", where=str(path), hint="edit it, or run `nnpm install NAME`"
        )
    doc = tomlkit.document()
    table = tomlkit.table()
    table["name"] = name or root.resolve().name
    table["dependencies"] = tomlkit.array()
    doc["project"] = table
    atomic_write_text(path, tomlkit.dumps(doc))
    return read_project(root)


def set_requirements(project: Project, add: list[Requirement] = (), remove: list = ()) -> Project:
    """Add requirements (replacing any for the same name) and drop names, keeping the file's formatting.

    Entries are edited in place: one that is neither dropped nor changed keeps the user's exact text
    and comment (`"x>=1, <2"` is never respelled `"x<2,>=1"`), and when nothing changes the file is
    not rewritten at all.
    """
    import tomlkit  # edits keep the user's formatting; imported only here, it costs start-up

    text = read_text_file(project.file)
    parse_toml(text, where=str(project.file))  # the checks tomlkit lacks: nesting, inf and nan
    doc = tomlkit.parse(text)
    array = doc["project"].get("dependencies")
    if array is None:
        doc["project"]["dependencies"] = array = tomlkit.array()
    changed = _edit_requirements(array, {r.name: r for r in add}, set(remove))
    if changed:
        if len(array) > 1:
            array.multiline(True)
        atomic_write_text(project.file, tomlkit.dumps(doc))
    return read_project(project.root)


def _edit_requirements(array, add: dict, remove: set) -> bool:
    """Apply `add` (by name) and `remove` to a tomlkit array of requirement strings; True if changed."""
    changed = False
    for index in reversed(range(len(array))):
        current = Requirement.parse(str(array[index]))
        new = add.pop(current.name, current)
        if current.name in remove:
            del array[index]
            changed = True
        elif new != current:
            array[index] = str(new)
            changed = True
    for requirement in sorted(add.values(), key=lambda r: r.name):
        array.append(str(requirement))
        changed = True
    return changed

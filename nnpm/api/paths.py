"""How a user names a package directory, and where a new composite is written.

A directory is written as a path (`./dir`, `../dir`, `/abs`, `~/dir`), as pip does; a bare
`ns/name` is always a package name, even when a folder of that name exists here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nnpm.errors import PackageNotFoundError, UsageError
from nnpm.package.manifest import MANIFEST_NAME, Manifest


def is_path_spec(spec: str | Path) -> bool:
    """A directory is written as a path (`./dir`, `../dir`, `/abs`, `~/dir`), as pip does; a bare
    `ns/name` is always a package name, even when a folder of that name exists here."""
    if isinstance(spec, Path):
        return True
    return spec in {".", ".."} or spec.startswith(("./", "../", "/", "~", ".\\", "..\\"))


def package_folder(spec: str | Path) -> Path:
    """The package folder a path spec names: UsageError (exit 2) when no such folder exists,
    PackageNotFoundError (4) when it holds no manifest."""
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise UsageError(f"no such directory: {spec}",
                         hint="write a package directory as ./path, an installed package as NAMESPACE/NAME")  # fmt: skip
    if not (path / MANIFEST_NAME).is_file():
        raise PackageNotFoundError(f"{spec} is not a package directory (no {MANIFEST_NAME})",
                                   hint="write an installed package as NAMESPACE/NAME, a directory as ./path")  # fmt: skip
    return path


def composite_folder(name: str, out: Path | str | None = None) -> Path:
    """The folder a composite named `name` is written to: `out`, or ./<name's last part>; refused
    (UsageError) when it is a file, or a non-empty folder that is not already package `name`."""
    from nnpm.package.naming import PackageName

    package = PackageName.parse(name)
    folder = Path(out).expanduser() if out is not None else Path(package.name)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder", hint="write the composite to a folder")
    if folder.is_dir() and any(folder.iterdir()):
        manifest = folder / MANIFEST_NAME
        if not manifest.is_file() or Manifest.read(manifest).name != package:
            raise UsageError(f"folder {folder} is not empty and does not hold package {package}",
                             hint="name a new or empty folder (--out): every file in it becomes part of the package")  # fmt: skip
    return folder


def folders_near(specs: Sequence[str | Path]) -> list[Path]:
    """Folders beside the directories named: a fresh build keeps its dependencies next to it."""
    return list(dict.fromkeys(Path(s).expanduser().parent for s in specs if is_path_spec(s)))

"""Which data a figure was measured on: its format, the name it was given, per-split counts and digests.

Two copies of MNIST from different sources both say `dataset = "mnist"`; only their digests
tell them apart. A digest covers the data as read (decoded pixels or token ids, labels, class
names and vocabulary), never files or paths, so the same images stored as IDX, PNG or CSV have
one digest, a manifest carries no machine path, and `nnpm eval` can say whether it measured
on the split a package's claim was measured on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nnpm.errors import ManifestError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitIdentity:
    count: int
    sha256: str


@dataclass(frozen=True)
class DataIdentity:
    """`[source.data]` in a manifest."""

    format: str
    name: str
    sha256: str
    splits: Mapping[str, SplitIdentity] = field(default_factory=dict)

    def same_split(self, other: DataIdentity, split: str) -> bool | None:
        """Whether `split` holds the same examples in both; None when either does not record it."""
        mine, theirs = self.splits.get(split), other.splits.get(split)
        if mine is None or theirs is None:
            return None
        return mine.sha256 == theirs.sha256

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "name": self.name,
            "sha256": self.sha256,
            "splits": {k: {"count": s.count, "sha256": s.sha256} for k, s in self.splits.items()},
        }

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], *, where: str) -> DataIdentity:
        """From a manifest table the schema has already checked (types, hex digests, split names)."""
        try:
            splits = {
                k: SplitIdentity(int(v["count"]), str(v["sha256"]))
                for k, v in table.get("splits", {}).items()
            }
            return cls(str(table["format"]), str(table["name"]), str(table["sha256"]), splits)
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(
                f"source.data is malformed ({exc})",
                where=where,
                hint="source.data holds format, name, sha256 and splits.<split>.{count, sha256}",
            ) from None

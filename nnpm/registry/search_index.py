"""The local registry's search index: SQLite (stdlib sqlite3) with FTS5, derived from index/.

    search.sqlite3      table meta(key, value): the `signature` of the index it was built from
                        table latest(name, version, row): each package's newest row, as index/ has it
                        fts5 table terms(name, tokens): the words a query is matched against

`nnpm search` used to read every package's rows and match each in Python, so it grew with
the registry. Here it asks FTS5, and only the hits are turned into VersionInfo.

Exactly the matcher of nnpm/registry/search.py: a query word q matches a word w when w starts
with q or singular(w) == singular(q). Each word w of a package is stored as two tokens, `w<hex>`
(the UTF-8 of w in hex) and `s<hex of singular(w)>`, and each q becomes the FTS5 query
`"w<hex of q>"* OR "s<hex of singular(q)>"`: a hex string is a prefix of another exactly when
the words are, and hex digits are what every FTS5 tokenizer keeps whole, so no tokenizer's idea
of letters, case or accents can differ from Python's. The hits are then checked with
search.matches as well. Where this SQLite lacks FTS5 (`FTS5` is False), the same file holds the
`latest` rows only and they are matched in Python: slower, the same answers.

Staleness: the signature is index/generation.txt's counter (every publish bumps it under the
publish lock) plus the size and mtime of a legacy index.json still in place. A search whose
index has another signature (or none, or cannot be opened) rebuilds it from index/ before
answering, so it is never silently wrong. Only a process holding the registry's publish lock
writes the file (a publish updates its package's rows in one transaction; a stale search
takes the lock if it is free at once): SQLite's own locking then only arbitrates between one
writer and readers, which matters on a network file system. A search that cannot take the
lock, or cannot write the registry, builds the index in memory for itself.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from nnpm.registry.base import VersionInfo
from nnpm.registry.search import matches, searchable_text, singular, words
from nnpm.registry.sparse_index import info_of

DB_NAME = "search.sqlite3"


def _has_fts5() -> bool:
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as db:
            db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return True
    except sqlite3.OperationalError:
        return False


#: Whether this Python's SQLite has FTS5 (nearly all do); without it, search matches in Python.
FTS5 = _has_fts5()


def tokens(info: VersionInfo) -> str:
    """The FTS5 tokens of a package: each word's hex, and its singular's, marked apart."""
    found = dict.fromkeys(
        token for w in words(searchable_text(info)) for token in (f"w{_hex(w)}", f"s{_hex(singular(w))}")
    )
    return " ".join(found)


def fts_query(query: str) -> str | None:
    """The FTS5 query for `query`; None for a query without words (it matches every package)."""
    found = words(query)
    if not found:
        return None
    return " AND ".join(f'("w{_hex(q)}"* OR "s{_hex(singular(q))}")' for q in found)


def _hex(word: str) -> str:
    return word.encode("utf-8").hex()


def _create(db: sqlite3.Connection, fts5: bool) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE TABLE latest (name TEXT PRIMARY KEY, version TEXT NOT NULL, row TEXT NOT NULL)")
    if fts5:
        db.execute("CREATE VIRTUAL TABLE terms USING fts5(name UNINDEXED, tokens, tokenize='ascii')")
    db.execute("INSERT INTO meta VALUES ('fts5', ?)", (str(int(fts5)),))


def _put(db: sqlite3.Connection, info: VersionInfo, row: dict, fts5: bool) -> None:
    name = str(info.name)
    db.execute("INSERT OR REPLACE INTO latest VALUES (?, ?, ?)", (name, str(info.version), json.dumps(row)))
    if fts5:
        db.execute("DELETE FROM terms WHERE name = ?", (name,))
        db.execute("INSERT INTO terms VALUES (?, ?)", (name, tokens(info)))


def _signature_of(db: sqlite3.Connection) -> str | None:
    found = db.execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
    return found[0] if found else None


def _set_signature(db: sqlite3.Connection, signature: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES ('signature', ?)", (signature,))


def _uses_fts5(db: sqlite3.Connection) -> bool:
    found = db.execute("SELECT value FROM meta WHERE key = 'fts5'").fetchone()
    return bool(found and found[0] == "1")


def fill(db: sqlite3.Connection, rows: Iterable[tuple[VersionInfo, dict]], signature: str) -> None:
    """Replace everything in `db` with `rows` (each package's newest version and its row), in one
    transaction: the tables too (sqlite3 would otherwise run each DROP and CREATE on its own), so a
    reader sees the old index or the new one, never one half built."""
    db.isolation_level = None
    db.execute("BEGIN IMMEDIATE")
    try:
        for table in ("meta", "latest", "terms"):
            db.execute(f"DROP TABLE IF EXISTS {table}")
        _create(db, FTS5)
        for info, row in rows:
            _put(db, info, row, FTS5)
        _set_signature(db, signature)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def update(path: Path, info: VersionInfo, row: dict, *, before: str, after: str) -> bool:
    """At publish, under the publish lock: put one package's newest row, if the file was built from
    exactly the index before this publish (`before`); returns whether it was updated. Otherwise it
    is left stale, which the next search notices (signatures differ) and repairs."""
    if not path.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            if _signature_of(db) != before:
                return False
            _put(db, info, row, _uses_fts5(db))
            _set_signature(db, after)
        return True
    except sqlite3.Error:  # a missing, foreign or damaged file: stale, and rebuilt by the next search
        return False


def query(db: sqlite3.Connection, text: str) -> list[VersionInfo]:
    """The hits for `text` in a built index, sorted by package name (search.select's order)."""
    fts = fts_query(text)
    if fts is None:
        found = db.execute("SELECT name, version, row FROM latest ORDER BY name").fetchall()
    elif _uses_fts5(db):
        found = db.execute(
            "SELECT l.name, l.version, l.row FROM terms JOIN latest AS l ON l.name = terms.name "
            "WHERE terms MATCH ? ORDER BY l.name",
            (fts,),
        ).fetchall()
    else:
        found = db.execute("SELECT name, version, row FROM latest ORDER BY name").fetchall()
    infos = (info_of(name, version, json.loads(row)) for name, version, row in found)
    return [info for info in infos if matches(text, info)]


def open_current(path: Path, signature: str) -> sqlite3.Connection | None:
    """The index file opened read-only when it was built from `signature`; else None (stale,
    missing, or not openable: a hot journal of a killed publisher, a damaged file)."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        if _signature_of(db) == signature:
            return db
    except sqlite3.Error:
        pass  # not a search index nnpm can read: treated as stale, and rebuilt
    db.close()
    return None


def rebuild(
    path: Path | None, rows: Callable[[], Iterable[tuple[VersionInfo, dict]]], signature: str
) -> sqlite3.Connection:
    """Build the index from `rows` into `path` (the caller holds the publish lock), or in memory
    when `path` is None; returns it open."""
    if path is None:
        db = sqlite3.connect(":memory:")
    else:
        try:
            db = sqlite3.connect(path)
            db.execute("SELECT 1 FROM sqlite_master").fetchall()
        except sqlite3.DatabaseError:  # not a database at all: it is derived, so replace it
            path.unlink(missing_ok=True)
            db = sqlite3.connect(path)
    fill(db, list(rows()), signature)  # every package file read before the old index is touched
    return db

"""Every token nnpm can know of, and how it is kept out of what nnpm prints.

A Hub server may echo what it was sent (an `Authorization` header in an error message, a
warning header), so redacting the one token a registry was given is not enough: the client
may have sent the login saved by `hf auth login` instead. `known_tokens()` gathers every
token nnpm could have sent or could have been told about:

- tokens handed to a `HubRegistry` in this process (`remember`);
- `HF_TOKEN` and the older `HUGGING_FACE_HUB_TOKEN`;
- the saved login (`$HF_HOME/token`) and every saved token (`$HF_HOME/stored_tokens`), both
  where the client looks now and where `HF_HOME` points now;
- any `token` / `password` value in the tables of nnpm's `config.toml`.

`redact(text)` replaces each of them (and anything after `Bearer `) with `***`.
`scrub(error)` does it to an NnpmError in place, and `install_log_filter()` to every log
record of the `huggingface_hub` loggers, whose warnings nnpm's CLI shows on stderr.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from nnpm.errors import NnpmError

MASK = "***"
#: shorter secrets are not redacted: replacing a 3-letter string everywhere would garble messages
MIN_TOKEN_CHARS = 4
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_CONFIG_KEYS = ("token", "password", "hf_token")
_remembered: set[str] = set()
_lock = threading.Lock()


def remember(token: str | None) -> None:
    """Note a token given to nnpm explicitly (a `HubRegistry(token=...)`) so that it is redacted too."""
    if token and len(token.strip()) >= MIN_TOKEN_CHARS:
        with _lock:
            _remembered.add(token.strip())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _hf_home_files() -> tuple[list[Path], list[Path]]:
    """(saved-login files, stored-tokens files): where the client looks, and where HF_HOME says now."""
    logins, stored = [], []
    try:
        from huggingface_hub import constants

        logins.append(Path(constants.HF_TOKEN_PATH))
        stored.append(Path(constants.HF_STORED_TOKENS_PATH))
    except ImportError:  # pragma: no cover - the Hub extra is not installed
        pass
    home = os.environ.get("HF_HOME")
    if home:
        logins.append(Path(home).expanduser() / "token")
        stored.append(Path(home).expanduser() / "stored_tokens")
    return logins, stored


def _stored_tokens(path: Path) -> Iterable[str]:
    text = _read(path)
    if not text:
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return [line.split("=", 1)[1] for line in text.splitlines() if "=" in line]
    keys = ("hf_token", "refresh_token")
    return [parser[s][k] for s in parser.sections() for k in keys if parser[s].get(k)]


def _config_tokens() -> Iterable[str]:
    """Secrets written in nnpm's config.toml (nnpm does not send them, but a user may have put one there)."""
    from nnpm.config import Settings
    from nnpm.package.files import parse_toml, read_text_file

    path = Settings.from_env().config_file
    try:
        doc = parse_toml(read_text_file(path), where=str(path)) if path.is_file() else {}
    except (NnpmError, OSError):
        return []
    found = []
    for table in (doc.get("registries") or {}).values():
        if isinstance(table, dict):
            found += [str(v) for k, v in table.items() if k.lower() in _CONFIG_KEYS and isinstance(v, str)]
    return found


def known_tokens(extra: Iterable[str | None] = ()) -> list[str]:
    """Every token nnpm can know of, longest first (so that a token inside another is masked whole)."""
    with _lock:
        tokens = set(_remembered)
    tokens.update(t for t in extra if t)
    tokens.update(os.environ.get(v) or "" for v in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"))
    logins, stored = _hf_home_files()
    for path in logins:
        tokens.update(_read(path).splitlines())
    for path in stored:
        tokens.update(_stored_tokens(path))
    tokens.update(_config_tokens())
    cleaned = {t.strip() for t in tokens}
    return sorted((t for t in cleaned if len(t) >= MIN_TOKEN_CHARS), key=len, reverse=True)


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """`text` with every known token, and whatever follows `Bearer `, replaced by ***."""
    if not text:
        return text
    for token in known_tokens(extra):
        text = text.replace(token, MASK)
    return _BEARER.sub(rf"\1 {MASK}", text)


def scrub(error: NnpmError, extra: Iterable[str | None] = ()) -> NnpmError:
    """Redact an nnpm error's message, location and hint in place (the server may have put a token there)."""
    extra = list(extra)
    error.what = redact(error.what, extra)
    error.where = redact(error.where, extra) if error.where else error.where
    error.hint = redact(error.hint, extra)
    error.args = (error.one_line(),)
    return error


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message with every known token redacted; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def install_log_filter() -> None:
    """Put the redacting filter on every `huggingface_hub` logger (a filter on a logger sees the records
    logged there, before any handler, so every handler downstream gets the redacted text). Idempotent."""
    loggers = [logging.getLogger("huggingface_hub")]
    loggers += [
        logger
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if name.startswith("huggingface_hub.") and isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

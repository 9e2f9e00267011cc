"""How the Hub decides that a file travels through LFS rather than inline in the commit: no HTTP in here.

huggingface.co answers `preupload` with `uploadMode: "lfs"` for a file that matches a
`filter=lfs` pattern of the repo's `.gitattributes` (every new repo starts with the Hub's
default list: `*.safetensors`, `*.bin`, `*.pt`, ...), for a binary file (its 512-byte sample
holds a NUL byte or is not UTF-8) and for a file over 10 MiB; everything else is "regular"
and travels base64 inside the commit. Its commit endpoint refuses an inline file that would
have been LFS, with the messages of its pre-receive hook, so a client that skipped the LFS
path fails against the Hub. `HubServer` applies the same rules in `preupload` and in
`commit`, so a test that passes here took the path it takes against huggingface.co.

An LFS file is stored by the sha256 of its bytes (its LFS oid); the git tree holds a pointer
file instead, whose git blob sha1 is the entry's `oid` in a tree listing.
"""

from __future__ import annotations

import fnmatch
import hashlib

#: a file larger than this is LFS whatever its name or content, as on the Hub ("larger than 10 MiB")
LFS_THRESHOLD = 10 * 1024 * 1024

#: the .gitattributes huggingface.co creates every model repo with
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
        "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
        "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
        "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
        "*.zst", "*tfevents*",
    )
).encode()  # fmt: skip

#: what the Hub's pre-receive hook answers for an inline file that should have been LFS
BINARY_REFUSED = (
    "Your push was rejected because it contains binary files. "
    "Please use https://huggingface.co/docs/hub/xet to store binary files. Offending files: {paths}"
)
LARGE_REFUSED = (
    "Your push was rejected because it contains files larger than 10 MiB. "
    "Please use https://git-lfs.github.com/ to store large files. Offending files: {paths}"
)
#: ... and for an lfsFile whose object was never uploaded (or whose size differs)
MISSING_OBJECT = (
    "Your push was rejected because an LFS pointer pointed to a file that does not exist. "
    "Offending files: {paths}"
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lfs_patterns(gitattributes: bytes | None) -> list[str]:
    """The patterns a .gitattributes marks `filter=lfs` (later `-filter` / `!filter` lines unmark them)."""
    patterns: list[str] = []
    for line in (gitattributes or b"").decode("utf-8", "replace").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        pattern, attrs = parts[0], parts[1:]
        if "filter=lfs" in attrs:
            patterns.append(pattern)
        elif any(a in ("-filter", "!filter") for a in attrs) and pattern in patterns:
            patterns.remove(pattern)
    return patterns


def matches_lfs(path: str, patterns: list[str]) -> bool:
    """git's rule: a pattern without a slash matches the file name in any folder, else the whole path."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in p else name, p) for p in patterns)


def looks_binary(sample: bytes) -> bool:
    """A NUL byte, or bytes that are not UTF-8 (a character cut at the sample's end is forgiven)."""
    if b"\0" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut_at_the_end = exc.reason == "unexpected end of data" and exc.start >= len(sample) - 3
        return not cut_at_the_end
    return False


def upload_mode(path: str, size: int, sample: bytes, gitattributes: bytes | None) -> str:
    """ "lfs" or "regular", as the Hub's preupload answers for a file of `size` bytes starting with `sample`."""
    if size > LFS_THRESHOLD or looks_binary(sample[:512]):
        return "lfs"
    return "lfs" if matches_lfs(path, lfs_patterns(gitattributes)) else "regular"


def refusal(path: str, data: bytes, gitattributes: bytes | None) -> str | None:
    """Why the Hub refuses `data` inline at `path` (it should have been LFS); None when it may travel inline.

    Empty files are always accepted inline: the client sends them "regular" whatever preupload said,
    since LFS storage cannot hold an empty object."""
    if not data or upload_mode(path, len(data), data[:512], gitattributes) == "regular":
        return None
    return (LARGE_REFUSED if len(data) > LFS_THRESHOLD else BINARY_REFUSED).format(paths=path)


def pointer(oid: str, size: int) -> bytes:
    """The git-lfs pointer file the git tree holds in place of an LFS file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()

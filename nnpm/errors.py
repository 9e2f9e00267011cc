"""One exception hierarchy for everything nnpm refuses to do.

Every error says what is wrong, where (a file, a field, a package) and what to do
about it, so that the CLI can print it on a single line and scripts can catch the
kind they know how to handle. Exit codes are part of the CLI's documented contract
(docs/cli.md).
"""

from __future__ import annotations

#: The exit code of bad usage (docs/cli.md): a malformed name, version or option value, an option
#: that does not apply, a path that is not there.
USAGE_EXIT_CODE = 2


class NnpmError(Exception):
    """Root of all nnpm errors.

    ``what`` says what is wrong, ``where`` locates it (a path, a field, a package),
    ``hint`` tells the user what to do next.
    """

    exit_code = 1
    default_hint = "see `nnpm --help`"

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.what = what
        self.where = where
        self.hint = hint or self.default_hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as the CLI prints it: ``where: what (hint: ...)``, no newlines."""
        head = f"{self.where}: {self.what}" if self.where else self.what
        return " ".join(f"{head} (hint: {self.hint})".split())

    def to_dict(self) -> dict[str, str | int | None]:
        """The error as `nnpm COMMAND --json` prints it, inside {"error": ...} (docs/cli.md)."""
        return {
            "type": type(self).__name__,
            "message": " ".join(self.what.split()),
            "where": self.where,
            "hint": " ".join(self.hint.split()),
            "exit_code": self.exit_code,
        }


# --- input the user gave us -------------------------------------------------------------------


class InvalidInputError(NnpmError):
    """Something the user wrote is malformed: a name, a version, a file.

    An error located at a command-line option (``where="--tau"``) is about a value the user
    typed on the command line, which the CLI's contract calls bad usage: it exits 2, not 1.
    """

    default_hint = "fix the value and try again"

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(what, where=where, hint=hint)
        if where and where.startswith("--"):
            self.exit_code = USAGE_EXIT_CODE


class UsageError(InvalidInputError):
    """The command or call itself is wrong: an option that does not apply, a path that is not there."""

    exit_code = USAGE_EXIT_CODE
    default_hint = "see `nnpm COMMAND --help`"


class InvalidNameError(InvalidInputError):
    exit_code = USAGE_EXIT_CODE
    default_hint = "names look like `namespace/name`: lowercase letters, digits and '-', one slash"


class InvalidVersionError(InvalidInputError):
    exit_code = USAGE_EXIT_CODE
    default_hint = "use a PEP 440 version such as 1.0.0, or a specifier such as '>=1,<2'"


class ManifestError(InvalidInputError):
    """A manifest, project file or lock file is malformed or violates its schema."""

    default_hint = "compare the file with docs/package-format.md; `nnpm pack DIR` rewrites the files table"


class WeightsError(InvalidInputError):
    """A safetensors file is truncated, malformed, or does not fit the architecture."""

    default_hint = "re-export the weights with safetensors.torch.save_file and run `nnpm pack DIR`"


class ConfigError(InvalidInputError):
    default_hint = "run `nnpm registry list` to see the configured registries"


# --- integrity -----------------------------------------------------------------------------------


class IntegrityError(NnpmError):
    """A file's bytes differ from what its manifest or lock promises."""

    exit_code = 3
    default_hint = "the file was changed or corrupted; reinstall it with `nnpm install --force NAME`"


class SignatureError(IntegrityError):
    """A package's signature is missing, does not match its files, or is by a key nobody trusts."""

    default_hint = (
        "install it from the publisher you trust, or ask them to sign it (`nnpm sign DIR --key KEY`)"
    )


# --- registries and the store -------------------------------------------------------------------


class NotFoundError(NnpmError):
    exit_code = 4
    default_hint = "check the spelling, or run `nnpm search` to see what the registry holds"


class PackageNotFoundError(NotFoundError):
    pass


class VersionNotFoundError(NotFoundError):
    default_hint = "run `nnpm show NAME` to list the published versions"


class NotInstalledError(NotFoundError):
    default_hint = "install it first with `nnpm install NAME`"


class RegistryError(NnpmError):
    """A registry refused an operation or could not be reached."""

    default_hint = "check the registry with `nnpm registry list` and try again"


class ImmutableVersionError(RegistryError):
    default_hint = "published versions never change: bump the version in nnpm.toml and publish again"


class AuthenticationError(RegistryError):
    default_hint = "set HF_TOKEN or run `hf auth login`, then try again"


class OfflineError(RegistryError):
    default_hint = (
        "unset HF_HUB_OFFLINE / drop --offline, or install from nnpm.lock with packages already in the store"
    )


class RunInterrupted(NnpmError):
    """Long work (training) was stopped by the user; what it finished is kept where it can resume."""

    exit_code = 130
    default_hint = "rerun the same command with --resume to continue"


class WriteError(NnpmError):
    """A write that no retry will cure: a full disk, a read-only filesystem, a folder the user may
    not write to. Raised with nothing half-written (nnpm.fsutil.writing); the hint says what to do."""

    default_hint = "free space, or make the folder writable, and retry"


class LockTimeoutError(NnpmError):
    default_hint = "another nnpm process is working on the same store; wait for it to finish and retry"


# --- resolution ----------------------------------------------------------------------------------


class ResolutionError(NnpmError):
    """The requirements cannot all be satisfied at once."""

    exit_code = 5
    default_hint = "relax one of the conflicting specifiers, or publish a version that satisfies both"


class StaleLockError(ResolutionError):
    default_hint = "run `nnpm lock` (or `nnpm install` without --frozen) to update nnpm.lock"


# --- networks ------------------------------------------------------------------------------------


class ArchitectureError(InvalidInputError):
    """The declarative architecture spec names an unknown family or bad parameters."""

    default_hint = "run `nnpm families` to list the architecture families nnpm can build"


class CompositionError(NnpmError):
    default_hint = "compose modules that share input shape, normalisation and embedding"


class DataError(InvalidInputError):
    default_hint = "check --dataset and --data-dir; docs/datasets.md lists the supported layouts"

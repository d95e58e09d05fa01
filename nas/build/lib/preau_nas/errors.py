"""Exceptions raised by the engine. Every message names the object concerned."""


class NasError(Exception):
    """Base class: a clean, user-facing error (the CLI prints it and exits 1)."""

    code = "error"


class FormatError(NasError):
    """A manifest, body, bundle, index or receipt could not be parsed."""

    code = "format"


class SignatureError(NasError):
    """Bad signature, or signed by a key that is not trusted."""

    code = "signature"


class UnknownKeyError(SignatureError):
    code = "unknown_key"


class RollbackError(NasError):
    """An older (or conflicting same-version) manifest was offered."""

    code = "rollback"


class ExpiredError(NasError):
    """The manifest's expiry date is past (freeze attack protection, online only)."""

    code = "expired"


class IntegrityError(NasError):
    """A chunk or object does not hash to its id, is truncated or unreadable."""

    code = "integrity"


class MissingObjectError(IntegrityError):
    code = "missing"


class DiskFullError(NasError):
    code = "disk_full"


class BundleReadError(NasError):
    """The bundle medium became unreadable (e.g. USB disk removed)."""

    code = "bundle_unreadable"


class OutsideWindowError(NasError):
    """Transfer stopped: outside the allowed time window. Resumable."""

    code = "outside_window"


class LockedError(NasError):
    code = "locked"

"""The one exception base of camaudit. The CLI turns it into a one-line message and exit code."""


class CamauditError(Exception):
    """Base for every error camaudit raises on purpose (bad input, unusable device, ...)."""

    exit_code = 2


class ConfigError(CamauditError):
    """A configuration file or option is invalid. The message names file, line and key."""


class SourceError(CamauditError):
    """A feed cannot be opened or read."""


class ModelError(CamauditError):
    """A detector model is missing, corrupt or cannot run here."""


class JournalError(CamauditError):
    """The journal database is unusable (corrupt, wrong device, full disk)."""


class VerifyError(CamauditError):
    """A journal or evidence pack failed verification."""

    exit_code = 1

"""Exceptions that the CLI turns into one clear line and a non-zero exit."""


class OrchestratorError(Exception):
    """A user-facing error: the message is the whole story (file, key, value)."""

    exit_code = 2


class ConfigError(OrchestratorError):
    """config.yaml or a platform file is invalid."""


class ToolError(OrchestratorError):
    """A required tool is missing or failed."""

    exit_code = 3

"""The one exception type isovox raises for bad input.

Every message is a single line that names the problem and, where it helps, the fix. The CLI prints
it as ``error: <message>`` and exits non-zero; the Python API lets it propagate.
"""


class IsovoxError(ValueError):
    """Bad input or an impossible request (not a bug in isovox)."""


class DiskFull(IsovoxError):
    """The file system ran out of space (or quota) while isovox was writing; the partial output
    was removed. Raised as an IsovoxError so that every caller's one-line handling applies."""

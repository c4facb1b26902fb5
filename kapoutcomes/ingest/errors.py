"""The one exception the importer raises: a problem with a whole file that a person can fix."""

from __future__ import annotations


class IngestError(ValueError):
    """A file that cannot be imported at all. ``str(e)`` is one line: file, problem, what to do.

    Row-level problems never raise: they go to quarantine with their reason.
    """

    def __init__(self, file: str, problem: str, action: str = "") -> None:
        self.file = file
        self.problem = problem
        self.action = action
        text = f"{file}: {problem}"
        if action:
            text += f"; {action}"
        super().__init__(text)

"""The one exception the importer raises: a problem with a whole file that a person can fix."""

from __future__ import annotations


class IngestError(ValueError):
    """A file that cannot be imported at all. ``str(e)`` is one line: file, problem, what to do.

    Row-level problems never raise: they go to quarantine with their reason.
    """

    def __init__(self, file: str, problem: str, action: str = "") -> None:
        from kapoutcomes.ingest.deid import scrub_file_name  # (deid imports the ingest stack)

        # never a raw file name in a message: it may hold a patient's name, DOB or MRN
        file = scrub_file_name(file)
        self.file = file
        self.problem = problem
        self.action = action
        text = f"{file}: {problem}"
        if action:
            text += f"; {action}"
        super().__init__(text)

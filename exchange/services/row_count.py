"""Counting a batch's data rows while it streams in, for the 2,000,000-row limit (→ 413)."""

from __future__ import annotations


class RowCounter:
    """Lines, where a last line without a newline counts too, less the CSV header; a
    newline inside a quoted CSV field does not end a row. Exact for UTF-8 and
    GB18030: neither '"' nor '\\n' occurs inside their multi-byte characters.
    Blank lines count, so the figure errs only upwards, and only by blank lines."""

    def __init__(self, *, is_csv: bool):
        self.is_csv = is_csv
        self.in_quotes = False
        self.newlines = 0
        self.ends_with_newline = True  # an empty body has no rows

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.is_csv and (self.in_quotes or b'"' in chunk):
            for i, part in enumerate(chunk.split(b'"')):
                if i:
                    self.in_quotes = not self.in_quotes
                if not self.in_quotes:
                    self.newlines += part.count(b"\n")
        else:
            self.newlines += chunk.count(b"\n")
        self.ends_with_newline = chunk.endswith(b"\n")

    @property
    def rows(self) -> int:
        lines = self.newlines + (0 if self.ends_with_newline else 1)
        return max(0, lines - 1) if self.is_csv else lines

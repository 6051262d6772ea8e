"""Counting a batch's data rows while it streams in, for the 2,000,000-row limit (→ 413).

The count follows validation's parser (validation/parsing.py), so that no input can hide rows from it:
- a line ends at LF, CR or CRLF (the parser reads lines with universal newlines), in CSV and NDJSON alike;
- in CSV a quote opens a quoted field only at the start of a field (after a comma or a line end, as
  Python's csv module reads it); a quote anywhere else is a plain character, so a stray quote hides
  nothing. Line ends inside a quoted field do not end a row, and `""` inside it is a quote.
The parser gives up on a line over its line limit and on a field over its field limit, and goes on
from the next line; where that could happen (a line or a quoted field over half the limit: a field is
at most its quoted part plus the rest of a line) the counter stops guessing and counts every line end
from there on, which is never fewer rows than the parser finds.
Exact for UTF-8 and GB18030: neither '"', ',', CR nor LF occurs inside their multi-byte characters.
Blank lines count (the parser skips them), so the figure errs only upwards; validation enforces the
limit again on the rows it parses.
"""

from __future__ import annotations

import re

from validation.parsing import MAX_LINE_BYTES

SURE_BYTES = MAX_LINE_BYTES // 2  # lines and quoted fields up to this long are read exactly as the parser reads them
_FIELD_OPENS_QUOTED = re.compile(rb'[,\r\n]"')  # a quote right after a comma or a line end
# Whole records whose quoted fields stay on one line, matched in one go from a line start (atomic groups:
# no backtracking); their line ends are exactly their rows. The state machine below takes the rest.
_FIELD = rb'(?:"[^"\r\n]*+(?:""[^"\r\n]*+)*+"[^,\r\n]*+|[^,\r\n"][^,\r\n]*+|)'
_ONE_LINE_RECORDS = re.compile(rb"(?>" + _FIELD + rb"(?:," + _FIELD + rb")*+(?:\r\n|\r|\n))*+")
_FIELD_STARTS = frozenset(b",\r\n")
_QUOTE = ord('"')


class RowCounter:
    def __init__(self, *, is_csv: bool):
        self.is_csv = is_csv
        self.line_ends = 0
        self.at_line_start = True  # an empty body has no rows
        self.after_cr = False  # the last byte was a CR outside quotes: an LF right after it ends no new line
        self.line_bytes = 0  # bytes since the last LF
        self.every_line_end = not is_csv  # NDJSON: every line is a row; CSV: once quotes cannot be followed
        self.field_start = True  # outside quotes, the next byte starts a field
        self.quoted: int | None = None  # inside a quoted field: its bytes so far
        self.quote_at_end = False  # inside a quoted field, the last chunk ended on a quote: '""' or its end

    @property
    def rows(self) -> int:
        lines = self.line_ends + (0 if self.at_line_start else 1)
        return max(0, lines - 1) if self.is_csv else lines

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self.every_line_end and self._has_long_line(chunk):
            self.every_line_end = True
        if self.every_line_end or (self.quoted is None and b'"' not in chunk):
            self.quoted = None
            self._count_lines(chunk)  # no quote that matters: every line end counts
            return
        pos, end = 0, len(chunk)
        while pos < end:
            if self.every_line_end:
                self._count_lines(chunk[pos:])
                return
            if self.quoted is not None:
                pos = self._in_quotes(chunk, pos)
                continue
            if self.at_line_start:
                records_end = _ONE_LINE_RECORDS.match(chunk, pos).end()
                if records_end > pos:
                    self._count_lines(chunk[pos:records_end])
                    pos = records_end
                    continue
            if self.field_start and chunk[pos] == _QUOTE:
                self.quoted, self.at_line_start, self.after_cr = 0, False, False
                pos += 1
                continue
            found = _FIELD_OPENS_QUOTED.search(chunk, pos)
            opens = found.end() - 1 if found else end
            line_end = _line_end(chunk, pos, opens)
            stop = line_end + 1 if line_end < opens else opens  # after a line end: whole records again
            self._count_lines(chunk[pos:stop])
            pos = stop

    def _has_long_line(self, chunk: bytes) -> bool:
        """Whether a line (LF to LF) seen so far runs over SURE_BYTES."""
        first = chunk.find(b"\n")
        if first < 0:
            self.line_bytes += len(chunk)
            return self.line_bytes > SURE_BYTES
        long_line = self.line_bytes + first > SURE_BYTES
        last = chunk.rfind(b"\n")
        self.line_bytes = len(chunk) - last - 1
        at = first
        while not long_line and last - at > SURE_BYTES:  # a chunk larger than a line may be
            following = chunk.rfind(b"\n", at + 1, at + SURE_BYTES + 2)
            long_line = following < 0
            at = following
        return long_line or self.line_bytes > SURE_BYTES

    def _count_lines(self, part: bytes) -> None:
        if not part:
            return
        ends = part.count(b"\n") + part.count(b"\r") - part.count(b"\r\n")
        if self.after_cr and part[0] == 0x0A:
            ends -= 1  # CRLF cut between two chunks
        self.line_ends += ends
        last = part[-1]
        self.after_cr = last == 0x0D
        self.at_line_start = last in (0x0A, 0x0D)
        self.field_start = last in _FIELD_STARTS

    def _in_quotes(self, chunk: bytes, pos: int) -> int:
        if self.quote_at_end:  # a quote ended the last chunk: this byte decides what it was
            self.quote_at_end = False
            if chunk[pos] == _QUOTE:
                self.quoted += 2
                return pos + 1
            self.quoted, self.field_start = None, False
            return pos
        quote = chunk.find(b'"', pos)
        stop = len(chunk) if quote < 0 else quote
        self.quoted += stop - pos
        if self.quoted > SURE_BYTES:
            self.every_line_end = True
            return pos
        if quote < 0:
            return stop
        if quote + 1 == len(chunk):
            self.quote_at_end = True
            return quote + 1
        if chunk[quote + 1] == _QUOTE:
            self.quoted += 2
            return quote + 2
        self.quoted, self.field_start = None, False
        return quote + 1


def _line_end(chunk: bytes, start: int, stop: int) -> int:
    """The first CR or LF in chunk[start:stop], or stop."""
    ends = [i for i in (chunk.find(b"\n", start, stop), chunk.find(b"\r", start, stop)) if i >= 0]
    return min(ends, default=stop)

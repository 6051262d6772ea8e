"""Batch files are kept encrypted at rest and give back exactly the bytes received."""

from __future__ import annotations

import io
import os

import pytest

from filestore.encryption import CHUNK, BatchFileCorrupt, BatchFileWriter, open_batch_file


def store(path, data: bytes, piece: int = 65536) -> None:
    with open(path, "wb") as raw:
        writer = BatchFileWriter(raw)
        for i in range(0, len(data), piece):
            writer.write(data[i:i + piece])
        writer.close()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_round_trip_is_exact(tmp_path, size):
    data = os.urandom(size)
    store(tmp_path / "b", data)
    with open_batch_file(tmp_path / "b") as stream:
        assert stream.read() == data


def test_no_plain_text_at_rest(tmp_path):
    data = "李四,430102198506120015\n".encode() * 1000
    store(tmp_path / "b", data)
    assert b"430102198506120015" not in (tmp_path / "b").read_bytes()


def test_text_wrappers_read_it_line_by_line(tmp_path):
    data = "甲,乙\n1,2\n".encode("gb18030") * 50000
    store(tmp_path / "b", data)
    with open_batch_file(tmp_path / "b") as stream:
        lines = list(io.TextIOWrapper(stream, encoding="gb18030", newline=""))
    assert len(lines) == 100000 and lines[0] == "甲,乙\n"


@pytest.mark.parametrize("damage", ["truncate", "flip", "drop_last"])
def test_tampering_is_noticed(tmp_path, damage):
    store(tmp_path / "b", os.urandom(2 * CHUNK + 10))
    raw = bytearray((tmp_path / "b").read_bytes())
    if damage == "truncate":
        raw = raw[:-5]
    elif damage == "flip":
        raw[100] ^= 1
    else:  # cut off exactly at a chunk boundary: the reader must still miss the last chunk
        first = 8 + 4 + 12 + CHUNK + 16
        raw = raw[:first]
    (tmp_path / "b").write_bytes(bytes(raw))
    with pytest.raises(BatchFileCorrupt), open_batch_file(tmp_path / "b") as stream:
        stream.read()

"""A path that is not a regular file is named for what it is (#14: a FIFO was called 'a folder')."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cgd_bridge.errors import CgdBridgeError, what_is_not_a_file
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.metadata.load import read_metadata_file


def test_each_kind_of_path_is_named(tmp_path: Path) -> None:
    fifo = tmp_path / "kisumu.csv"
    os.mkfifo(fifo)
    assert what_is_not_a_file(fifo) == "this is a named pipe (FIFO), not a file"
    assert what_is_not_a_file(tmp_path) == "this is a folder, not a file"
    assert what_is_not_a_file(tmp_path / "none.csv") == "the file does not exist"
    assert what_is_not_a_file(Path("/dev/null")) == "this is a device, not a file"


@pytest.mark.parametrize("reader", [open_table, load_mapping, read_metadata_file])
def test_the_readers_say_fifo(tmp_path: Path, reader) -> None:
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    with pytest.raises(CgdBridgeError) as err:
        reader(fifo)
    assert "named pipe (FIFO)" in err.value.message
    assert "folder" not in err.value.message

"""The embedding cache on disk: float16 shards written atomically, rows read back in
any order across shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workers.ml import shards
from workers.ml.shards import read_rows, write_shard


def test_round_trip_across_shards_in_any_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 8)).astype(np.float32)
    b = rng.normal(size=(3, 8)).astype(np.float32)
    name_a = write_shard(tmp_path, a)
    name_b = write_shard(tmp_path, b)
    assert name_a != name_b
    locations = [(name_b, 2), (name_a, 0), (name_a, 4), (name_b, 0), (name_a, 0)]
    rows = read_rows(tmp_path, locations)
    assert rows.dtype == np.float32
    expected = np.stack([b[2], a[0], a[4], b[0], a[0]]).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(rows, expected)


def test_shards_are_float16_npy_and_leave_no_temporary_files(tmp_path: Path) -> None:
    name = write_shard(tmp_path / "new" / "folder", np.ones((4, 3), dtype=np.float64))
    folder = tmp_path / "new" / "folder"
    assert [p.name for p in folder.iterdir()] == [name]
    stored = np.load(folder / name)
    assert stored.dtype == np.float16
    assert stored.shape == (4, 3)


def test_each_shard_is_opened_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = write_shard(tmp_path, np.arange(40, dtype=np.float32).reshape(10, 4))
    opened: list[Path] = []
    real_load = np.load

    def counting_load(path: Path, *args: object, **kwargs: object) -> object:
        opened.append(path)
        return real_load(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shards.np, "load", counting_load)
    rows = read_rows(tmp_path, [(name, i) for i in (9, 1, 5, 1)])
    assert rows[:, 0].tolist() == [36.0, 4.0, 20.0, 4.0]
    assert len(opened) == 1


def test_no_locations_no_rows(tmp_path: Path) -> None:
    assert read_rows(tmp_path, []).shape[0] == 0


def test_a_row_past_the_end_is_an_error(tmp_path: Path) -> None:
    name = write_shard(tmp_path, np.zeros((2, 3)))
    with pytest.raises(IndexError, match="has 2 rows"):
        read_rows(tmp_path, [(name, 2)])


@pytest.mark.parametrize("name", ["../escape.npy", "/etc/passwd", "sub/x.npy", "x.txt"])
def test_shard_names_cannot_leave_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="not a shard name"):
        read_rows(tmp_path, [(name, 0)])


def test_only_matrices_are_shards(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2-d"):
        write_shard(tmp_path, np.zeros(5))

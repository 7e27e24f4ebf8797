"""The embedding map's pure layout: one point per vector, neighbourhoods kept, new
vectors placed beside their kind, the file round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workers.ml import layout


def clustered(
    n: int, clusters: int = 5, dim: int = 1280, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """float16 vectors like a backbone's: a few well-separated clumps."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32) * 4
    labels = rng.integers(0, clusters, n)
    vectors = centres[labels] + rng.normal(size=(n, dim)).astype(np.float32)
    return vectors.astype(np.float16), labels


@pytest.fixture(scope="module")
def fitted() -> tuple[layout.Layout, np.ndarray, np.ndarray]:
    vectors, labels = clustered(400, seed=1)
    return layout.fit(vectors), vectors, labels


def _cluster_purity(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of each point's k nearest map neighbours that come from its own clump."""
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    near = np.argsort(d, axis=1)[:, :k]
    return float((labels[near] == labels[:, None]).mean())


def test_one_finite_point_per_vector(fitted: tuple[layout.Layout, np.ndarray, np.ndarray]) -> None:
    result, vectors, _ = fitted
    assert result.coords.shape == (len(vectors), 2)
    assert np.isfinite(result.coords).all()
    assert result.coords.std(axis=0).min() > 0  # not collapsed onto a line or a point


def test_neighbours_stay_neighbours(fitted: tuple[layout.Layout, np.ndarray, np.ndarray]) -> None:
    result, _, labels = fitted
    assert _cluster_purity(result.coords, labels) > 0.95
    # And the clumps are apart: a clump's centre is nearer its own points than any other's.
    centres = np.stack([result.coords[labels == c].mean(axis=0) for c in range(5)])
    nearest = np.argmin(((result.coords[:, None] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == labels).mean() > 0.95


def test_new_vectors_land_in_their_clump(
    fitted: tuple[layout.Layout, np.ndarray, np.ndarray],
) -> None:
    result, _, labels = fitted
    new, new_labels = clustered(60, seed=1)  # same centres, fresh noise
    rng = np.random.default_rng(7)
    new = (new.astype(np.float32) + rng.normal(scale=0.1, size=new.shape)).astype(np.float16)
    placed = layout.place(result, new)
    assert placed.shape == (60, 2)
    centres = np.stack([result.coords[labels == c].mean(axis=0) for c in range(5)])
    nearest = np.argmin(((placed[:, None] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == new_labels).mean() > 0.95


def test_a_fitted_vector_is_placed_where_it_sits(
    fitted: tuple[layout.Layout, np.ndarray, np.ndarray],
) -> None:
    result, vectors, _ = fitted
    placed = layout.place(result, vectors[:20], neighbours=1)
    assert np.allclose(placed, result.coords[:20], atol=1e-3)


@pytest.mark.parametrize("n", [1, 2, 3, 15])
def test_tiny_projects_get_a_map(n: int) -> None:
    vectors, _ = clustered(n, dim=32)
    result = layout.fit(vectors)
    assert result.coords.shape == (n, 2)
    assert np.isfinite(result.coords).all()
    assert layout.place(result, vectors[:1]).shape == (1, 2)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((0, 8)), np.zeros(8), np.full((3, 8), np.nan), np.full((3, 8), np.inf)],
    ids=["empty", "1-d", "nan", "inf"],
)
def test_refuses_malformed_vectors(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="vector"):
        layout.fit(bad)


def test_place_refuses_the_wrong_width(
    fitted: tuple[layout.Layout, np.ndarray, np.ndarray],
) -> None:
    with pytest.raises(ValueError, match="columns"):
        layout.place(fitted[0], np.zeros((2, 64)))


def test_refit_past_a_fifth() -> None:
    assert not layout.needs_refit(100, 20)
    assert layout.needs_refit(100, 21)
    assert layout.needs_refit(0, 1)


def test_round_trip_and_hostile_files(
    tmp_path: Path, fitted: tuple[layout.Layout, np.ndarray, np.ndarray]
) -> None:
    result, vectors, _ = fitted
    name = layout.save(result, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind
    back = layout.load(tmp_path, name)
    assert np.array_equal(back.coords, result.coords)
    assert np.allclose(
        layout.place(back, vectors[:5]), layout.place(result, vectors[:5]), atol=0.05
    )
    for hostile in ("../" + name, "/etc/passwd", "x.npy", ""):
        with pytest.raises(ValueError, match="not a layout file"):
            layout.load(tmp_path, hostile)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot be read"):
        layout.load(tmp_path, "junk.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / name).read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot be read"):
        layout.load(tmp_path, "cut.npz")
    layout.discard(tmp_path, "../outside.npz")  # refused quietly, nothing outside touched
    layout.discard(tmp_path, name)
    assert not (tmp_path / name).exists()

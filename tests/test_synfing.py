import hashlib
import json

import pandas as pd
import pytest

from fpnb.synthesis import synfing
from fpnb.synthesis.sefa import factorize


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def model(tiny_generator):
    return tiny_generator, factorize(tiny_generator)[1]


def _digest(root):
    """sha256 over pairs.csv and every image, by relative path."""
    digest = hashlib.sha256()
    for path in sorted([root / "pairs.csv", *(root / "images").iterdir()]):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_synfing_set_is_written_and_scored(model, mean_matcher, tmp_path):
    generator, directions = model
    stats = synfing.build_synfing(generator, directions, 3, tmp_path, seed=1, indices=[0, 1], matcher=mean_matcher,
                                  scale=2.0, threshold=90.0)
    table = pd.read_csv(tmp_path / "pairs.csv")
    assert len(table) == 3 and len(list((tmp_path / "images").glob("*.png"))) == 6
    assert set(table["direction_0"]) <= {0, 1} and table["degree_0"].abs().max() <= 3
    assert stats["n_identities"] == 3 and 0 <= stats["genuine_match_rate"] <= 1
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["stats"] == stats and manifest["parameters"]["matcher"] == "mean"
    assert not (tmp_path / synfing.CHUNKS).exists()
    mtime = (tmp_path / "pairs.csv").stat().st_mtime_ns
    assert synfing.build_synfing(generator, directions, 3, tmp_path, seed=1, indices=[0, 1], matcher=mean_matcher,
                                 scale=2.0, threshold=90.0) == stats
    assert (tmp_path / "pairs.csv").stat().st_mtime_ns == mtime  # kept, not rebuilt
    again = synfing.build_synfing(generator, directions, 3, tmp_path / "again", seed=1, indices=[0, 1])
    assert again["n_images"] == 6 and "genuine_mean" not in again
    assert pd.read_csv(tmp_path / "again" / "pairs.csv")["seed"].tolist() == table["seed"].tolist()


def test_two_dask_workers_write_the_same_bytes(model, tmp_path, monkeypatch):
    generator, directions = model
    one = tmp_path / "one"
    synfing.build_synfing(generator, directions, 40, one, seed=2, workers=1)
    monkeypatch.setattr(synfing, "_CLUSTER_MIN_IDENTITIES", 0)
    two = tmp_path / "two"
    synfing.build_synfing(generator, directions, 40, two, seed=2, workers=2)  # a LocalCluster, two chunks
    assert _digest(one) == _digest(two)
    assert not [p for p in two.rglob(".*")]


def test_a_killed_build_resumes_without_redoing_finished_chunks(model, tmp_path, monkeypatch):
    generator, directions = model
    reference = tmp_path / "reference"
    synfing.build_synfing(generator, directions, 40, reference, seed=3)
    build_identity = synfing._identity

    def dies_at_identity_35(generator, directions, identity, *rest):
        if identity == 35:
            raise KeyboardInterrupt("killed")
        return build_identity(generator, directions, identity, *rest)

    monkeypatch.setattr(synfing, "_identity", dies_at_identity_35)
    root = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        synfing.build_synfing(generator, directions, 40, root, seed=3)
    assert [p.name for p in (root / synfing.CHUNKS).glob("0*.json")] == ["000000.json"]  # identities 0-31 done
    (root / "images" / ".tmp-000035_0.png").write_bytes(b"half an image")  # what a kill can leave
    calls = []
    monkeypatch.setattr(synfing, "_identity", lambda g, d, identity, *rest: calls.append(identity)
                        or build_identity(g, d, identity, *rest))
    synfing.build_synfing(generator, directions, 40, root, seed=3)
    assert min(calls) == 32  # the recorded chunk was not built again
    assert _digest(root) == _digest(reference)
    assert sorted(p.name for p in root.iterdir()) == ["images", "manifest.json", "pairs.csv"]


def test_other_parameters_start_over(model, tmp_path):
    generator, directions = model
    synfing.build_synfing(generator, directions, 4, tmp_path, seed=4)
    first = _digest(tmp_path)
    synfing.build_synfing(generator, directions, 4, tmp_path, seed=5)
    assert _digest(tmp_path) != first and len(list((tmp_path / "images").iterdir())) == 8


def test_a_set_from_the_shipped_generator(tmp_path):
    from fpnb.config import get_profile

    stats = synfing.build_from_shipped(get_profile("full"), 2, tmp_path, score=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert stats == {"n_identities": 2, "n_images": 4} and manifest["parameters"]["resolution"] >= 64
    with pytest.raises(FileNotFoundError, match="no shipped generator for profile 'smoke'"):
        synfing.build_from_shipped(get_profile("smoke"), 2, tmp_path / "smoke")

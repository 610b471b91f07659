"""Datasets on disk and their loaders: layout, caching, identity splits, loud errors, TF and torch adapters."""
import csv
import json
import shutil

import cv2
import numpy as np
import pytest

from fpnb import get_profile
from fpnb.data import datasets

PROFILE = get_profile("smoke", n_identities=6, n_impressions=2, image_height=128, image_width=96)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return datasets.build_restoration_dataset(PROFILE, seed=3, root=tmp_path_factory.mktemp("chalearn"))


def test_layout_manifest_and_pairs(root):
    for split in datasets.SPLITS:
        assert (root / f"{split}_input").is_dir() and (root / f"{split}_ground-truth").is_dir()
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["parameters"]["seed"] == 3 and len(manifest["content_hash"]) == 64
    assert sum(c["pairs"] for c in manifest["counts"].values()) == 12
    x, y, names = datasets.load_pairs(root, "training")
    assert x.shape == (len(names), 128, 96, 3) and x.dtype == np.uint8
    assert y.shape == (len(names), 128, 96) and y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1
    assert len(datasets.load_pairs(root, "training", limit=3)[2]) == 3
    assert len(list((root / "masters").glob("*.png"))) == 6


def test_identity_splits_are_disjoint(root):
    with open(root / "identities.csv") as handle:
        rows = list(csv.DictReader(handle))
    by_split = {s: {r["identity"] for r in rows if r["split"] == s} for s in datasets.SPLITS}
    assert all(by_split.values())
    assert not (by_split["training"] & by_split["validation"] or by_split["training"] & by_split["test"]
                or by_split["validation"] & by_split["test"])
    for split in datasets.SPLITS:
        stems = {a.stem for a, _ in datasets.list_pairs(root, split)}
        assert stems == {r["file"] for r in rows if r["split"] == split}


def test_build_is_cached_deterministic_and_rebuilt_on_change(root, tmp_path):
    stamp = (root / "manifest.json").stat().st_mtime_ns
    assert datasets.build_restoration_dataset(PROFILE, seed=3, root=root) == root
    assert (root / "manifest.json").stat().st_mtime_ns == stamp
    again = datasets.build_restoration_dataset(PROFILE, seed=3, root=tmp_path / "again")
    hashes = [json.loads((r / "manifest.json").read_text())["content_hash"] for r in (root, again)]
    assert hashes[0] == hashes[1]
    datasets.build_restoration_dataset(PROFILE, seed=4, root=again)
    assert json.loads((again / "manifest.json").read_text())["content_hash"] != hashes[0]


def test_split_identities_validates_and_never_leaves_training_empty():
    splits = datasets.split_identities(10, 0.2, 0.2, seed=0)
    assert splits.count("validation") == 2 and splits.count("test") == 2 and splits.count("training") == 6
    with pytest.raises(ValueError, match="val_fraction"):
        datasets.split_identities(10, 1.5, 0.1, seed=0)
    with pytest.raises(ValueError, match="n_identities"):
        datasets.split_identities(2, 0.1, 0.1, seed=0)


def test_loader_errors_name_the_folder_or_file(root, tmp_path):
    with pytest.raises(FileNotFoundError, match="training_input"):
        datasets.list_pairs(tmp_path / "nowhere", "training")
    with pytest.raises(ValueError, match="split"):
        datasets.list_pairs(root, "train")
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    shutil.copy(copy / "test_input" / sorted(p.name for p in (copy / "test_input").iterdir())[0],
                copy / "test_input" / "orphan.jpg")
    with pytest.raises(FileNotFoundError, match="orphan.jpg"):
        datasets.list_pairs(copy, "test")
    (copy / "test_input" / "orphan.jpg").unlink()
    broken = sorted((copy / "validation_input").iterdir())[0]
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(OSError, match=broken.name):
        datasets.load_pairs(copy, "validation")
    shutil.rmtree(copy / "test_ground-truth")
    with pytest.raises(FileNotFoundError, match="test_ground-truth"):
        datasets.list_pairs(copy, "test")


def test_load_print_folder(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"p{i}.png"), np.full((40, 30), 60 * i, np.uint8))
    (tmp_path / "notes.txt").write_text("not a print")
    images, names = datasets.load_print_folder(tmp_path)
    assert images.shape == (3, 40, 30) and images.dtype == np.float32 and names == ["p0.png", "p1.png", "p2.png"]
    assert images[2].max() == pytest.approx(120 / 255)
    cv2.imwrite(str(tmp_path / "p3.bmp"), np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="p3.bmp"):
        datasets.load_print_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        datasets.load_print_folder(tmp_path / "missing")


def test_master_prints_and_torch_adapter(monkeypatch, tmp_path):
    import torch

    monkeypatch.setenv("FPNB_DATA", str(tmp_path))
    prints = datasets.master_prints(PROFILE, seed=3, resolution=32)
    assert (tmp_path / "smoke" / "chalearn" / "manifest.json").is_file()
    assert prints.shape[1:] == (32, 32) and prints.dtype == np.float32 and len(prints) >= 1
    data = datasets.TorchPrints(prints, 16)
    assert isinstance(data, torch.utils.data.Dataset) and len(data) == len(prints)
    item = data[0]
    assert item.shape == (1, 16, 16) and item.dtype == torch.float32 and -1 <= item.min() and item.max() <= 1


def test_tf_pairs_batches_crops_and_is_reproducible(root):
    data = datasets.tf_pairs(root, "training", batch_size=2, crop_size=32, seed=1)
    x, y = next(iter(data))
    assert tuple(x.shape) == (2, 32, 32, 3) and tuple(y.shape) == (2, 32, 32, 1)
    assert x.dtype.name == "float32" and 0 <= float(y.numpy().min()) and float(y.numpy().max()) <= 1
    batches = [b[1].numpy() for b, _ in zip(datasets.tf_pairs(root, "training", 2, 32, seed=1), range(3))]
    again = [b[1].numpy() for b, _ in zip(datasets.tf_pairs(root, "training", 2, 32, seed=1), range(3))]
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    assert not np.array_equal(batches[0], batches[1])
    whole = next(iter(datasets.tf_pairs(root, "validation", 1, augment=False, repeat=False)))
    _, targets, _ = datasets.load_pairs(root, "validation", limit=1)
    np.testing.assert_allclose(whole[1].numpy()[0, ..., 0], targets[0], atol=1e-6)


SCALE = get_profile("smoke", n_identities=20, n_impressions=2, image_height=128, image_width=96)


def _manifest(root):
    return json.loads((root / "manifest.json").read_text())


def _hidden_leftovers(root):
    return [p for p in root.rglob(".*") if p.name != "manifest.json"]


def test_two_worker_dask_build_gives_the_same_bytes(tmp_path):
    one = datasets.build_restoration_dataset(SCALE, seed=5, root=tmp_path / "one", workers=1)
    two = datasets.build_restoration_dataset(SCALE, seed=5, root=tmp_path / "two", workers=2)  # a LocalCluster
    assert _manifest(one)["content_hash"] == _manifest(two)["content_hash"]
    assert _manifest(one)["files"] == _manifest(two)["files"] and not _hidden_leftovers(two)


def test_a_killed_build_resumes_to_the_same_manifest(tmp_path, monkeypatch):
    reference = datasets.build_restoration_dataset(SCALE, seed=5, root=tmp_path / "reference", workers=1)
    build_identity = datasets._build_identity

    def dies_at_identity_11(root, identity, split, params):
        if identity == 11:
            raise KeyboardInterrupt("killed")
        return build_identity(root, identity, split, params)

    monkeypatch.setattr(datasets, "_build_identity", dies_at_identity_11)
    root = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        datasets.build_restoration_dataset(SCALE, seed=5, root=root, workers=1)
    assert not (root / "manifest.json").exists()
    assert [p.name for p in (root / datasets.CHUNKS).glob("0*.json")] == ["00000.json"]  # identities 0-7 done
    (root / "training_input" / ".tmp-00011_00.jpg").write_bytes(b"half an image")  # what a kill can leave
    calls = []
    monkeypatch.setattr(datasets, "_build_identity", lambda *job: calls.append(job[1]) or build_identity(*job))
    datasets.build_restoration_dataset(SCALE, seed=5, root=root, workers=1)
    assert min(calls) == 8  # the recorded chunk was not built again
    assert _manifest(root)["content_hash"] == _manifest(reference)["content_hash"]
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == sorted(_manifest(reference)["files"] + ["manifest.json"])  # no partial or duplicate file


def _worker_settings():
    import os

    import dask
    return {"profiler": dask.config.get("distributed.worker.profile.enabled"),
            "gil_monitor": dask.config.get("distributed.admin.system-monitor.gil.enabled"),
            "omp_threads": os.environ.get("OMP_NUM_THREADS"), "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}


def test_local_workers_run_single_threaded_without_samplers():
    from fpnb.data.cluster import dask_client

    with dask_client(workers=1) as client:
        (settings,) = client.run(_worker_settings).values()
    assert settings == {"profiler": False, "gil_monitor": False, "omp_threads": "1", "malloc_trim": None}


def test_an_unreachable_scheduler_fails_fast_naming_it():
    import time

    from fpnb.data.cluster import dask_client

    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="tcp://127.0.0.1:9"):
        with dask_client("tcp://127.0.0.1:9", timeout_s=2):
            pass
    assert time.perf_counter() - start < 15


def test_regenerated_inputs_match_the_stored_ones(root):
    inputs, targets, names = datasets.load_pairs(root, "training", limit=3)
    params = datasets.build_parameters(root)
    for stored, target, name in zip(inputs, targets, names):
        again = datasets.regenerate_input(params, name, target)
        # the stored target is the float target rounded to 8 bits: the same input up to a few grey levels
        assert again.shape == stored.shape and np.abs(again.astype(int) - stored).mean() < 2.0
    with pytest.raises(FileNotFoundError, match="manifest"):
        datasets.build_parameters(root / "masters")

"""segmentation_agreement(): VOI split / merge and adapted Rand error."""

from pathlib import Path

import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.evaluate import segmentation_agreement
from isovox.volume import Volume

FLYEM_LABELS = Path("/work/shared/data/flyem_fibsem_sample2_labels_250cube.tif")


@pytest.fixture
def labels():
    """Four slabs along x, labels 1..4, with a background (0) frame."""
    data = np.zeros((8, 8, 16), dtype=np.uint32)
    for k in range(4):
        data[1:-1, 1:-1, 4 * k:4 * k + 4] = k + 1
    data[1:-1, 1:-1, 0] = 0
    return data


def test_identical_labelings_score_zero(labels):
    result = segmentation_agreement(labels, labels.copy())
    assert result["voi_split"] == result["voi_merge"] == result["voi"] == 0
    assert result["adapted_rand_error"] == pytest.approx(0)
    assert result["adapted_rand_precision"] == pytest.approx(1)
    assert result["adapted_rand_recall"] == pytest.approx(1)


def test_relabelling_scores_zero(labels):
    permuted = np.array([0, 70000, 3, 2 ** 31, 12], dtype=np.uint64)[labels]
    result = segmentation_agreement(Volume(labels, (1, 1, 1), "nm"),
                                    Volume(permuted, (1, 1, 1), "nm"))
    assert result["voi"] == 0
    assert result["adapted_rand_error"] == pytest.approx(0)


def test_split_raises_split_voi_only(labels):
    split = labels.copy()
    split[:4][split[:4] == 2] = 9  # object 2 cut in two along z
    result = segmentation_agreement(labels, split)
    assert result["voi_split"] > 0.01
    assert result["voi_merge"] == 0
    assert result["adapted_rand_recall"] < 1
    assert result["adapted_rand_precision"] == pytest.approx(1)


def test_merge_raises_merge_voi_only(labels):
    merged = labels.copy()
    merged[merged == 3] = 2
    result = segmentation_agreement(labels, merged)
    assert result["voi_merge"] > 0.01
    assert result["voi_split"] == 0
    assert result["adapted_rand_precision"] < 1
    assert result["adapted_rand_recall"] == pytest.approx(1)


def test_ignored_reference_labels_do_not_count(labels):
    test = labels.copy()
    test[labels == 0] = 2  # background merged into object 2: only where the reference says 0
    assert segmentation_agreement(labels, test)["voi"] == 0
    counted = segmentation_agreement(labels, test, ignore_labels=())
    assert counted["voi_merge"] > 0
    assert counted["n_voxels"] == labels.size


def test_grid_and_dtype_are_checked(labels):
    with pytest.raises(IsovoxError, match="differs from reference"):
        segmentation_agreement(labels, labels[:, :, :8])
    with pytest.raises(IsovoxError, match="spacing"):
        segmentation_agreement(Volume(labels, (1, 1, 1), "nm"), Volume(labels, (2, 1, 1), "nm"))
    with pytest.raises(IsovoxError, match="integer labels"):
        segmentation_agreement(labels, labels.astype(float))
    with pytest.raises(IsovoxError, match="nothing to score"):
        segmentation_agreement(np.zeros_like(labels), labels)


def test_flyem_labels_agree_with_themselves():
    if not FLYEM_LABELS.exists():
        pytest.skip(f"real FlyEM labels not found at {FLYEM_LABELS}")
    tifffile = pytest.importorskip("tifffile")
    labels = tifffile.imread(FLYEM_LABELS)[:64, :64, :64]
    reference = Volume(labels, (10, 10, 10), "nm")
    result = segmentation_agreement(reference, reference.replace(data=labels.copy()))
    assert result["n_reference_labels"] > 10
    assert result["voi"] == 0
    assert result["adapted_rand_error"] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, bool])
def test_label_dtypes_and_negative_ids(dtype):
    reference = np.zeros((4, 6, 8), dtype=np.int64)
    reference[:, :, 4:] = 1
    values = {np.int8: (-128, 127), np.int64: (-5, 2 ** 40), np.uint16: (7, 65535), bool: (0, 1)}
    low, high = values[dtype]
    test = np.where(reference == 1, high, low).astype(dtype)
    assert segmentation_agreement(reference, test, ignore_labels=())["voi"] == 0
    test[0, 0, 0] = high  # one voxel of object 0 given to object 1: a merge-like error
    assert segmentation_agreement(reference, test, ignore_labels=())["voi_merge"] > 0

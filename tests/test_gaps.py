"""Defective sections are bridged the same way everywhere (isovox.gaps): in memory, block by
block, with and without a model; training skips them; simulate makes them."""

import numpy as np
import pytest
from scipy import ndimage as ndi

import isovox
from isovox import io
from isovox.blockwise import reconstruct_blockwise
from isovox.cli import main
from isovox.errors import IsovoxError
from isovox.gaps import SectionGaps, fill_gaps, fill_region
from isovox.simulation import simulate
from isovox.volume import Volume


@pytest.fixture
def stack():
    """24 smooth sections of 40 x 40 at 40 x 10 x 10 nm, section 9 lost (all zeros)."""
    data = ndi.gaussian_filter(np.random.default_rng(2).random((24, 40, 40)), (1, 2, 2))
    data = (40 + 180 * (data - data.min()) / np.ptp(data)).astype(np.uint8)
    data[9] = 0
    return Volume(data, (40.0, 10.0, 10.0), "nm")


def test_a_gap_is_the_linear_blend_of_its_good_neighbours():
    data = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 2, 3), np.float32)
    gaps = SectionGaps(axis=0, bad=(2, 3, 5), n=6)
    filled = fill_gaps(Volume(data, (4, 1, 1), "nm"), gaps).numpy()
    assert np.allclose(filled[:, 0, 0], [0, 1, 2, 3, 4, 4])        # 2, 3 between 1 and 4; 5 after 4


def test_regions_bridge_exactly_like_the_whole_volume(stack):
    gaps = SectionGaps(axis=0, bad=(0, 9, 10), n=24)
    whole = fill_gaps(stack, gaps).numpy()
    data = stack.numpy()
    for start, stop in [(0, 5), (8, 11), (9, 10), (10, 24), (3, 17)]:
        region = fill_region(data[start:stop, 5:30, 7:20], start, gaps, lambda k: data[k, 5:30, 7:20])
        assert np.array_equal(region, whole[start:stop, 5:30, 7:20])


def test_all_sections_defective_is_an_error():
    with pytest.raises(IsovoxError, match="all 3 sections"):
        SectionGaps(axis=0, bad=(0, 1, 2), n=3)


def test_reconstruction_finds_and_bridges_a_lost_section(stack):
    bridged = isovox.reconstruct(stack, "linear")
    ignored = isovox.reconstruct(stack, "linear", detect_defects=False)
    assert bridged.shape == ignored.shape and bridged.spacing == ignored.spacing
    data = stack.numpy().astype(float)
    expected = np.rint((data[8] + data[10]) / 2)
    assert np.array_equal(bridged.numpy()[36], expected)            # section 9 lands on output 36
    assert ignored.numpy()[36].max() == 0                           # the black band, as before
    user = isovox.reconstruct(stack.replace(data=stack.numpy().copy()), "linear", bad_sections=[9],
                              detect_defects=False)
    assert np.array_equal(user.numpy(), bridged.numpy())


@pytest.mark.parametrize("use_model", [False, True])
def test_blockwise_with_gaps_equals_in_memory(stack, tmp_path, use_model):
    source = io.write(stack, tmp_path / "stack.tif")
    model = None
    if use_model:
        model = isovox.train(stack, tmp_path / "model", iterations=2, patch_size=32, batch_size=2,
                             validation_pairs=4)
    options = dict(model=model) if use_model else dict(method="cubic")
    in_memory = isovox.reconstruct(io.read(source), **options)
    blocks = reconstruct_blockwise(source, tmp_path / "iso.zarr", block_size=(17, 23, 19), workers=1,
                                   progress=False, **options)
    assert np.array_equal(np.asarray(blocks.data), in_memory.numpy())


def test_training_skips_defective_planes(stack, tmp_path):
    folder = isovox.train(stack, tmp_path / "model", iterations=2, patch_size=32, batch_size=2,
                          validation_pairs=4, bad_sections=[3])
    from isovox.store import read_card

    card = read_card(folder)
    assert card.degradation["excluded_planes"] == [3, 9]


def test_simulated_gaps_are_blank_recorded_and_found():
    from isovox.defects import detect_defects

    truth = Volume(ndi.gaussian_filter(np.random.default_rng(0).random((160, 32, 32)), 1.5).astype(np.float32),
                   (10, 10, 10), "nm")
    result = simulate(truth, 4, axis="z", gaps=0.1, seed=3)
    lost = [op for op in result.record if op["op"] == "drop_sections"][0]["indices"]
    assert len(lost) == 4 and 0 not in lost and 39 not in lost
    assert np.all(result.lowres.numpy()[lost] == 0)
    assert list(detect_defects(result.lowres).indices) == sorted(lost)


@pytest.mark.parametrize("text,words", [("3,99", "out of range"), ("3,3", "twice"), ("a", "bad section"),
                                        ("-1", "bad section")])
def test_bad_section_options_fail_in_one_line(stack, tmp_path, capsys, text, words):
    source = io.write(stack, tmp_path / "stack.tif")
    code = main(["reconstruct", str(source), "-o", str(tmp_path / "o.tif"), "--bad-sections", text])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert words in err
    assert not (tmp_path / "o.tif").exists()


def test_bad_sections_are_refused_where_nothing_would_use_them(stack, tmp_path, capsys):
    source = io.write(stack, tmp_path / "stack.tif")
    code = main(["train", str(source), "-o", str(tmp_path / "m"), "--method", "degradation-learning",
                 "--bad-sections", "9"])
    err = capsys.readouterr().err
    assert code == 2 and "isovox reconstruct" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m").exists()

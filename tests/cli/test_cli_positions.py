"""--positions on the command line: the stack is put on the regular grid before anything else."""

import numpy as np
import pytest

from isovox import io

# The ``stack`` fixture has 20 sections said to be 40 nm apart; these put them 30 nm apart with
# the section at 300 nm lost: 21 regular slices every 30 nm, the one at 300 bridged.
POSITIONS = [30 * k for k in range(21) if k != 10]


@pytest.fixture
def positions_file(tmp_path):
    path = tmp_path / "positions.txt"
    path.write_text("# section positions, nm\n" + "\n".join(map(str, POSITIONS)) + "\n")
    return path


def test_run_reconstructs_on_the_regular_grid_of_the_positions(cli, stack, positions_file, tmp_path):
    result = cli("run", stack, "-o", tmp_path / "iso.tif", "--positions", positions_file, "--iterations", "2",
                 "--set", "patch_size=32", "--no-check")
    assert result.code == 0, result.err
    output = io.read(tmp_path / "iso.tif")
    # 21 slices every 30 nm to 10 nm: factor 3, (21 - 1) * 3 + 1 slices (the file's 40 nm gave 77)
    assert output.shape == (61, 48, 48) and output.spacing == (10, 10, 10)


def test_reconstruct_interpolates_the_regularised_stack(cli, stack, positions_file, tmp_path):
    result = cli("reconstruct", stack, "-o", tmp_path / "iso.tif", "--method", "linear", "--positions",
                 positions_file, "--no-detect")
    assert result.code == 0, result.err
    acquired, output = io.read(stack).numpy().astype(float), io.read(tmp_path / "iso.tif").numpy()
    assert output.shape == (61, 48, 48)
    assert np.array_equal(output[27], acquired[9])                  # 270 nm: section 9, unchanged
    bridge = np.rint((acquired[9] + acquired[10]) / 2)              # 300 nm: halfway from 270 to 330
    assert np.array_equal(output[30], bridge)


def test_blockwise_with_positions_equals_in_memory(cli, stack, positions_file, tmp_path):
    common = ("--method", "linear", "--positions", positions_file, "--no-detect")
    assert cli("reconstruct", stack, "-o", tmp_path / "iso.tif", *common).code == 0
    result = cli("reconstruct", stack, "-o", tmp_path / "iso.zarr", "--block-size", "32", *common)
    assert result.code == 0, result.err
    assert np.array_equal(io.read(tmp_path / "iso.zarr").numpy(), io.read(tmp_path / "iso.tif").numpy())


def test_info_shows_the_step_and_the_slices_of_the_regular_grid(cli, stack, positions_file):
    result = cli("info", stack, "--positions", positions_file)
    assert result.code == 0, result.err
    assert "20 sections -> 21 slices every 30 nm along z; 1 gap(s)" in result.out
    assert "[21, 48, 48]" in result.out


@pytest.mark.parametrize("lines,words", [(["0", "30", "x"], ["line 3", "'x'"]),
                                         (["0", "30", "60"], ["3 positions", "20 sections"]),
                                         ([str(k) for k in (0, 30, 30, *range(90, 600, 30))], ["twice"])])
def test_bad_positions_are_one_line_errors_and_write_nothing(cli, stack, tmp_path, lines, words):
    path = tmp_path / "positions.txt"
    path.write_text("\n".join(lines))
    cli("reconstruct", stack, "-o", tmp_path / "iso.tif", "--positions", path).one_line_error(*words, code=2)
    assert not (tmp_path / "iso.tif").exists()


def test_positions_describe_one_volume_in_train(cli, stack, positions_file, tmp_path):
    cli("train", stack, stack, "-o", tmp_path / "m", "--positions", positions_file).one_line_error(
        "--positions", "2 input volumes", code=2)
    assert not (tmp_path / "m").exists()

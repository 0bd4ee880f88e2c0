"""`isovox export`: both formats from the command line, and one-line errors for what it refuses."""

import json
import zipfile

import numpy as np
import pytest

from isovox import io
from isovox.cli import main
from isovox.volume import Volume


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bioimageio_package_with_a_sample_volume(model_folder, tmp_path, capsys):
    folder = model_folder("drcnet")
    sample = tmp_path / "sample.tif"
    data = np.random.default_rng(0).integers(0, 255, (18, 20, 66)).astype(np.uint8)
    io.write(Volume(data, (40.0, 10.0, 10.0), "nm"), sample)
    output = tmp_path / "model.zip"
    code, out, err = run(["export", folder, "-o", output, "--sample", sample, "--author", "Ada Lovelace",
                          "--author", "Alan Turing", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["format"] == "bioimageio"
    with zipfile.ZipFile(output) as package:
        rdf = package.read("rdf.yaml").decode()
    assert "Ada Lovelace" in rdf and "Alan Turing" in rdf


def test_torchscript_from_the_suffix_then_refused_without_overwrite(model_folder, tmp_path, capsys,
                                                                     assert_one_line_error):
    folder = model_folder("drcnet")
    output = tmp_path / "net.pt"
    code, out, err = run(["export", folder, "-o", output], capsys)
    assert code == 0, err
    assert "torchscript" in out and output.is_file()
    code, _, err = run(["export", folder, "-o", output], capsys)
    assert_one_line_error(code, err, "exists", "--overwrite", exit_code=2)


@pytest.mark.parametrize("arguments, words", [
    (["-o", "{tmp}/m.onnx"], ["--format"]),
    (["-o", "{tmp}/m.pt", "--author", "Ada"], ["bioimageio package"]),
    (["-o", "{tmp}/m.zip", "--spacing", "40", "10", "10"], ["--sample"]),
    (["-o", "{folder}/m.zip"], ["inside the input"]),
    (["-o", "{tmp}/m.zip", "--format", "onnx"], ["bioimageio, torchscript"]),
])
def test_bad_requests_are_one_line_errors(arguments, words, model_folder, tmp_path, capsys, assert_one_line_error):
    folder = model_folder("drcnet")
    filled = [a.format(tmp=tmp_path, folder=folder) for a in arguments]
    code, _, err = run(["export", folder, *filled], capsys)
    assert_one_line_error(code, err, *words, exit_code=2)
    assert not list(tmp_path.glob("m.*")) and sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.pt"]


def test_3d_model_is_refused_naming_what_is_supported(model_folder, tmp_path, capsys, assert_one_line_error):
    code, _, err = run(["export", model_folder("mdcsrn"), "-o", tmp_path / "m.zip"], capsys)
    assert_one_line_error(code, err, "3d model", "2D slice-wise", exit_code=2)
    assert not (tmp_path / "m.zip").exists()

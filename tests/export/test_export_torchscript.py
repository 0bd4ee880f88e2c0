"""TorchScript export: the file computes what isovox computes, for every 2D slice-wise network."""

import numpy as np
import pytest
import torch

from isovox.errors import IsovoxError
from isovox.export import export_torchscript
from isovox.export.network import EXPORT_ATOL, open_exportable
from isovox.models import PREUPSAMPLED, list_models, model_info

SLICE_WISE = [name for name in list_models("2d") if PREUPSAMPLED in model_info(name).conventions]


def test_the_slice_wise_backbones_are_all_covered():
    # the brief's four, if a rename or a removal ever drops one from the registry this fails
    assert {"drcnet", "rcan", "a2i", "isonet2"} <= set(SLICE_WISE)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
@pytest.mark.parametrize("name", SLICE_WISE)
def test_exported_file_equals_isovox_prediction(name, model_folder, tmp_path):
    folder = model_folder(name)
    path = export_torchscript(folder, tmp_path / f"{name}.pt")
    exported = torch.jit.load(str(path))
    model = open_exportable(folder)
    # odd sizes, not square, a batch: none of them a multiple of a2i's windows or isonet2's pooling
    planes = np.random.default_rng(3).random((3, 50, 29), dtype=np.float32)
    expected = model.predict(planes)
    with torch.inference_mode():
        got = exported(torch.from_numpy(planes)[:, None])[:, 0].numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=EXPORT_ATOL)


def test_3d_and_arbitrary_scale_models_are_refused_in_one_line(model_folder, tmp_path):
    with pytest.raises(IsovoxError, match="2D slice-wise"):
        export_torchscript(model_folder("mdcsrn"), tmp_path / "m3d.pt")
    with pytest.raises(IsovoxError, match="2D slice-wise"):
        export_torchscript(model_folder("meta-srgan", method="arbitrary-scale"), tmp_path / "meta.pt")
    assert not list(tmp_path.glob("*.pt"))


def test_a_network_that_upsamples_rows_itself_is_refused(model_folder, tmp_path):
    with pytest.raises(IsovoxError, match="scale 2"):
        export_torchscript(model_folder("edsr", scale=2), tmp_path / "edsr.pt")


def test_output_may_not_replace_or_enter_the_model_folder(model_folder, tmp_path):
    folder = model_folder("drcnet")
    with pytest.raises(IsovoxError, match="inside the input"):
        export_torchscript(folder, folder / "net.pt")
    with pytest.raises(IsovoxError, match="input"):
        export_torchscript(folder, folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.pt"]

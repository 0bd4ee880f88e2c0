"""Helpers for the command-line tests: run ``isovox`` in-process and read what it printed."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from isovox import io
from isovox.cli import main
from isovox.volume import Volume


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def one_line_error(self, *words, code=None):
        """Assert a non-zero exit (``code`` if given) and exactly one line 'error: ...' naming ``words``."""
        assert self.code != 0, (self.out, self.err)
        if code is not None:
            assert self.code == code, (self.code, self.err)
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), self.err
        assert "Traceback" not in self.out + self.err
        for word in words:
            assert word.lower() in lines[0].lower(), (word, lines[0])
        return lines[0]


@pytest.fixture
def cli(capsys):
    def run(*args):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return run


@pytest.fixture
def checksum():
    return digest


def digest(path: Path) -> str:
    """SHA-256 of a file, or of every file under a folder (names included)."""
    path = Path(path)
    sha = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in files:
        sha.update(str(item.relative_to(path.parent)).encode())
        sha.update(item.read_bytes())
    return sha.hexdigest()


@pytest.fixture
def stack(tmp_path):
    """A small anisotropic uint8 stack (20 x 48 x 48 at 40 x 10 x 10 nm) with smooth structure."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    data = ndi.gaussian_filter(rng.random((20, 48, 48)), 2)
    data = (255 * (data - data.min()) / np.ptp(data)).astype(np.uint8)
    return io.write(Volume(data, (40, 10, 10), "nm"), tmp_path / "stack.tif")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A selfsup model folder trained for 2 iterations on a stack like ``stack`` (factor 4)."""
    from scipy import ndimage as ndi

    from isovox.training import train

    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(0)
    data = ndi.gaussian_filter(rng.random((20, 48, 48)), 2).astype(np.float32)
    volume = Volume((255 * (data - data.min()) / np.ptp(data)).astype(np.uint8), (40, 10, 10), "nm")
    return train(volume, folder / "model", iterations=2, patch_size=32, batch_size=2, validation_pairs=4)

"""Readers for the IDX files of (Fashion-)MNIST, as shipped by Debian's dataset-fashion-mnist."""
from __future__ import annotations

import gzip
import os
import struct
from typing import Optional, Tuple

import numpy as np
import torch

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def _read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated ({arr.size} of {int(np.prod(dims))} values)")
    return arr.reshape(dims)


def load_fashion_mnist(split: str = "train", root: Optional[str] = None,
                       limit: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 [N, 1, 28, 28] scaled to [0, 1] then normalised (mean 0.286, std 0.353), labels int64."""
    root = root or os.environ.get("LINGER_FASHION_MNIST", FASHION_MNIST_DIR)
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    img_path = os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")
    lbl_path = os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")
    for p in (img_path, lbl_path):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{p} not found: install Debian's dataset-fashion-mnist (apt-get install "
                                    "dataset-fashion-mnist) or set LINGER_FASHION_MNIST")
    images = _read_idx(img_path)
    labels = _read_idx(lbl_path)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    x = (x - 0.286) / 0.353
    return x, torch.from_numpy(labels.astype(np.int64))

"""Write the example images shipped with the tests (README's predict example).

They are MNIST test digits rendered like users' own pictures by
``tests/_photos.py``: ``seventeen.png`` (the first "1" and the first "7" of
the MNIST test set, side by side, dark ink on white, ten times larger) and
``four.jpg`` (the first "4", photographed: off-centre, uneven light, noise,
JPEG). Run from the repository root::

    python tests/data/make_examples.py
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mnistbench import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for _photos
from _photos import pair, render

HERE = Path(__file__).resolve().parent


def first(ds, label):
    return int(np.flatnonzero(ds.y_test == label)[0])


def main():
    ds = load_dataset("mnist")
    one, seven, four = first(ds, 1), first(ds, 7), first(ds, 4)
    Image.fromarray(pair(ds.X_test[one], ds.X_test[seven])).save(HERE / "seventeen.png", optimize=True)
    photo = render(ds.X_test[four], "photo", np.random.default_rng(0))
    Image.fromarray(photo).save(HERE / "four.jpg", quality=90)
    print(f"MNIST test indices: 1 -> {one}, 7 -> {seven}, 4 -> {four}")


if __name__ == "__main__":
    main()

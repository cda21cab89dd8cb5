"""
Reading your own images
=======================

A folder with one sub-folder of images per class is a dataset
(:func:`~mnistbench.load_image_folder`, or ``folder:PATH`` on the command line), and
:func:`~mnistbench.prepare_image` turns a photo of digits into MNIST's form. Here a folder
is written from digits images, then read back; and one digit is drawn large, dark on
light, with noise, as a phone photo would be, and prepared.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from skimage.io import imsave
from skimage.transform import resize

from mnistbench import load_dataset, load_image_folder, make_model, prepare_image

digits = load_dataset("digits")
folder = Path(tempfile.mkdtemp())
for i, (image, label) in enumerate(zip(digits.X_train[:300], digits.y_train[:300],
                                       strict=True)):
    (folder / str(label)).mkdir(exist_ok=True)
    imsave(folder / str(label) / f"{i}.png", (image * 15).astype(np.uint8),
           check_contrast=False)

mine = load_image_folder(folder, prepare=False)  # keep the 8x8 images as they are
print(mine)
model = make_model("svc", random_state=0).fit(*mine.train)
print(f"test accuracy on the folder's own split: {model.score(*mine.test):.3f}")

# %%
# A "photo": one digit scaled up, dark ink on light paper, with noise.
rng = np.random.default_rng(0)
photo = 1 - resize(digits.X_test[0] / 16.0, (160, 160), order=1)
photo = np.clip(photo + rng.normal(0, 0.08, photo.shape), 0, 1)
prepared = prepare_image(photo)
fig, axes = plt.subplots(1, 2, figsize=(5, 2.5))
axes[0].imshow(photo, cmap="gray")
axes[0].set_title("photo")
axes[1].imshow(prepared.digits[0], cmap="gray")
axes[1].set_title("prepared, 28x28")
for ax in axes:
    ax.axis("off")
fig.tight_layout()

"""Images in: the dataset registry, the MNIST, Fashion-MNIST and folder readers, the cache and
download sources, image preparation and the corruptions. Imports nothing above it."""

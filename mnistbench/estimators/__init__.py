"""The models: the Keras CNN as a scikit-learn classifier, its architectures and devices, the
feature transformers, the registry of built-in models, your own models, and model files.
Imports only :mod:`mnistbench.data` and the leaf modules."""

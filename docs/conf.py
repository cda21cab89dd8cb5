"""Sphinx configuration: pydata-sphinx-theme, numpydoc API pages from the docstrings,
a sphinx-gallery of runnable examples on digits, and MyST for the Markdown pages (so the
tables under results/ are included as they were generated, never retyped)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import mnistbench  # noqa: E402 - after the path and the log level

project = "mnistbench"
author = "the mnistbench developers"
release = mnistbench.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autosummary_generate = True
# scikit-learn's generated set_*_request methods cite its own glossary: not ours to render
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "exclude-members": ", ".join(f"set_{m}_request" for m in (
        "fit", "predict", "score", "partial_fit", "transform", "inverse_transform",
        "predict_proba", "decision_function", "split")) + ", get_metadata_routing",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"my_models\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"mnistbench {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
# an explicit mode: without one the theme's script logs "invalid theme mode" on file:// pages
html_context = {"default_mode": "light"}
html_static_path = []
templates_path = ["_templates"]

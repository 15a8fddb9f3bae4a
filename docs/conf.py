"""Sphinx configuration of the sklearn-dvae documentation (``make docs``).

Built as scikit-learn builds its documentation: autodoc and autosummary read the
numpydoc docstrings, and sphinx-gallery renders ``examples/`` as a gallery. The build
runs offline with warnings as errors, so nothing here fetches anything (no
intersphinx inventories).
"""

import inspect
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import sklearn_dvae  # noqa: E402

# -- Project -----------------------------------------------------------------------
project = "sklearn-dvae"
author = "sklearn-dvae developers"
copyright = "sklearn-dvae developers, BSD-3-Clause"
release = sklearn_dvae.__version__
version = re.sub(r"\.dev.*$", "", release)

# -- General -----------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "images/README*"]
root_doc = "index"
# Single backticks in docstrings (`BetaVAE`) are cross-references when they resolve,
# plain code otherwise. Unresolved Python references are not reported (nitpicky off):
# docstrings mention torch, skorch and scikit-learn objects that have no inventory here.
default_role = "py:obj"
nitpicky = False
pygments_style = "sphinx"
# Keep quotes and dashes as typed: pages and docstrings quote code and command-line
# options (``--n-jobs``) in running text.
smartquotes = False

# -- autodoc / autosummary / numpydoc ----------------------------------------------
autosummary_generate = True
autosummary_generate_overwrite = True
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
# Inherited docstrings would pull skorch's and torch's docstrings (other conventions)
# into this package's pages; members without a docstring of their own are left out.
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

GENERATED = DOCS / "gen_modules"


def plotting_reference():
    """The API page of ``sklearn_dvae.plotting``, listing the module's ``__all__``.

    The plotting module needs matplotlib (the ``plot`` extra) and is younger than the
    rest of the package: the page lists whatever the module exports, or says that it
    cannot be imported, so the build neither misses a new function nor breaks without
    it.
    """
    title = "``sklearn_dvae.plotting``: figures"
    lines = [".. _api_plotting:", "", title, "=" * len(title), ""]
    try:
        import sklearn_dvae.plotting as plotting
    except ImportError as error:
        if getattr(error, "name", None) == "sklearn_dvae.plotting":
            reason = "This version of the package has no plotting module."
        else:
            reason = (
                "The plotting module could not be imported when these pages were built "
                f"(``{type(error).__name__}: {error}``); it needs matplotlib: "
                '``pip install "sklearn-dvae[plot]"``.'
            )
        return "\n".join(lines + [reason, ""])
    names = [name for name in getattr(plotting, "__all__", []) if not name.startswith("_")]
    lines += [
        ".. automodule:: sklearn_dvae.plotting",
        "   :no-members:",
        "   :no-index:",
        "",
        ".. currentmodule:: sklearn_dvae.plotting",
        "",
    ]
    classes = [name for name in names if inspect.isclass(getattr(plotting, name))]
    functions = [name for name in names if name not in classes]
    for template, members in (("class.rst", classes), ("function.rst", functions)):
        if members:
            lines += [".. autosummary::", "   :toctree: .", f"   :template: {template}"]
            lines += ["   :nosignatures:", ""] + [f"   {name}" for name in members] + [""]
    return "\n".join(lines)


def prepare_generated_pages(app, config):
    """Empty gen_modules/ of generated pages, then write the plotting API page.

    Autosummary writes one page per public object into gen_modules/; starting from an
    empty folder means that a name removed from the package leaves no orphan page
    behind (an orphan page is a warning, and warnings are errors here).
    sphinx-gallery's back-references live in gen_modules/backreferences and are
    rewritten every build. Runs before autosummary generates its pages.
    """
    GENERATED.mkdir(exist_ok=True)
    for stale in GENERATED.glob("*.rst"):
        stale.unlink()
    (GENERATED / "api_plotting.rst").write_text(plotting_reference())


def _defining_module(obj):
    """Module that defines a member (function, method, property), or None."""
    target = obj
    if isinstance(target, property):
        target = target.fget
    target = getattr(target, "__func__", target)
    return getattr(target, "__module__", None)


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document only the members this package defines.

    Estimator pages list inherited members, so that ``BetaVAE`` shows the ``fit`` and
    ``transform`` it inherits from ``DisentangledVAE``; the methods inherited from
    scikit-learn, skorch or torch are documented there, not here.
    """
    if skip:
        return True
    module = _defining_module(obj)
    if module is not None and not module.startswith("sklearn_dvae"):
        return True
    return None


# "name : type" lines of numpydoc sections. A type such as
# ``ndarray of shape (n_samples, *input_shape_)`` is inserted as reStructuredText, where
# ``*`` opens emphasis and a trailing ``_`` makes a link: escape both in types only.
_TYPE_LINE = re.compile(r"^([*\w][\w, *\\]* : )(.+)$")


def escape_type_markup(app, what, name, obj, options, lines):
    """Escape reST markup characters in the types of numpydoc parameter lists."""
    for index, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match is None:
            continue
        head, kind = match.groups()
        kind = re.sub(r"(?<!\\)\*", r"\\*", kind)
        kind = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", kind)
        lines[index] = head + kind


def setup(app):
    app.connect("config-inited", prepare_generated_pages)
    app.connect("autodoc-skip-member", skip_foreign_members)
    # Before numpydoc (priority 500) turns the sections into reST.
    app.connect("autodoc-process-docstring", escape_type_markup, priority=400)


# -- sphinx-gallery ----------------------------------------------------------------
# Only examples whose file name starts with ``plot_`` are executed while the docs are
# built (they must be quick); the others are long-running scripts (full grid searches,
# command-line options) and are rendered with their code but not run.
sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples")],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": re.escape(os.sep) + "plot_",
    "ignore_pattern": r"(__init__|conftest|/_[^/]*)\.py$",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_dvae",),
    "reference_url": {"sklearn_dvae": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "plot_gallery": "True",
}

# -- HTML --------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"sklearn-dvae {release}"
html_short_title = "sklearn-dvae"
html_theme_options = {
    "description": "Disentangled VAEs as scikit-learn estimators",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "250px",
    "show_relbars": True,
}
html_sidebars = {
    "**": ["about.html", "searchfield.html", "navigation.html", "relations.html"],
}
html_static_path = []
html_show_sourcelink = False
html_copy_source = False

"""The documentation covers the public API: reference pages list it, docstrings follow numpydoc.

Cheap checks on the sources only; ``make docs`` builds the pages themselves (with
warnings as errors), which is too slow for the test suite.
"""

import ast
import importlib
import importlib.util
import inspect
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_PAGES = sorted((DOCS / "api").glob("*.rst"))
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))

# Modules whose __all__ is public API, documented in docs/api/ by hand.
REFERENCED_MODULES = [
    "sklearn_dvae",
    "sklearn_dvae.metrics",
    "sklearn_dvae.datasets",
    "sklearn_dvae.model_selection",
    "sklearn_dvae.nn",
    "sklearn_dvae.callbacks",
]
# ... and the plotting module (once it exists), whose reference page docs/conf.py
# writes from its __all__.
HAS_PLOTTING = importlib.util.find_spec("sklearn_dvae.plotting") is not None
DOCSTRING_MODULES = REFERENCED_MODULES + (["sklearn_dvae.plotting"] if HAS_PLOTTING else [])


def _public_names(module_name):
    module = importlib.import_module(module_name)
    return [name for name in module.__all__ if not name.startswith("__")]


def _documented_names(pages):
    """Fully qualified names that pages list in autosummary tables and data directives."""
    names = set()
    for page in pages:
        module, block = None, None
        for line in page.read_text().splitlines():
            if current := re.match(r"\.\. currentmodule:: (\S+)", line):
                module, block = current.group(1), None
            elif line.startswith(".. autosummary::"):
                block = "autosummary"
            elif data := re.match(r"\.\. (?:py:)?data:: (\w+)\s*$", line):
                block = "data"
                names.add(f"{module}.{data.group(1)}")
            elif block == "data" and (more := re.match(r"\s+(\w+)\s*$", line)):
                names.add(f"{module}.{more.group(1)}")  # further signatures of the directive
            elif block == "autosummary" and (entry := re.match(r"   ~?([\w.]+)\s*$", line)):
                names.add(f"{module}.{entry.group(1)}")
            elif line.strip() and not line.startswith(" "):
                block = None
            elif block == "data" and not line.strip():
                block = None
    return names


def _sections(docstring):
    """numpydoc sections of a docstring: {title: lines}."""
    lines = inspect.cleandoc(docstring).splitlines()
    sections, current = {}, None
    for index, line in enumerate(lines):
        underline = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-+", underline) and len(underline) == len(line.strip()):
            current = line.strip()
            sections[current] = []
        elif current is not None and not re.fullmatch(r"-+", line.strip()):
            sections[current].append(line)
    return sections


def _listed_parameters(lines):
    """Names in a numpydoc parameter list (``a, b : int`` names a and b)."""
    names = set()
    for line in lines:
        if line and not line[0].isspace():
            for name in line.split(" : ")[0].split(","):
                names.add(name.strip().lstrip("*"))
    return names


def _public_object_params():
    """The public classes and functions (not data such as ready-made scorers)."""
    params = []
    for module_name in DOCSTRING_MODULES:
        module = importlib.import_module(module_name)
        for name in _public_names(module_name):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                params.append(pytest.param(obj, id=f"{module_name}.{name}"))
    return params


def _named_parameters(obj):
    """Parameters a docstring must list: named ones of a function or of a class's own
    ``__init__`` (a class that inherits its constructor, such as an exception, has
    none to list). ``*args`` and ``**kwargs`` are not required."""
    if inspect.isclass(obj):
        init = obj.__dict__.get("__init__")
        fields = getattr(obj, "_fields", None)  # a NamedTuple lists its fields
        if init is None and fields is None:
            return []
        signature = inspect.signature(obj)
    else:
        signature = inspect.signature(obj)
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in signature.parameters.values() if p.kind not in variadic]


def _public_method_params():
    """The public methods that the public classes define themselves.

    Plain functions, staticmethods and classmethods in the class's own ``__dict__``;
    names starting with ``_`` (dunders included), properties and inherited methods
    are left out.
    """
    params = []
    for module_name in DOCSTRING_MODULES:
        module = importlib.import_module(module_name)
        for name in _public_names(module_name):
            cls = getattr(module, name)
            if not inspect.isclass(cls):
                continue
            for attribute, value in vars(cls).items():
                function = (
                    value.__func__ if isinstance(value, staticmethod | classmethod) else value
                )
                if not attribute.startswith("_") and inspect.isfunction(function):
                    params.append(
                        pytest.param(cls, attribute, id=f"{module_name}.{name}.{attribute}")
                    )
    return params


def _returns_a_value(function):
    """Whether the function's own body has a ``return <value>`` or a ``yield``.

    Nested functions, lambdas and classes are not its body; ``return None`` returns
    nothing.
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    pending = list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                return True
        if not isinstance(node, nested):
            pending.extend(ast.iter_child_nodes(node))
    return False


@pytest.mark.parametrize("module_name", REFERENCED_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name):
    documented = _documented_names(API_PAGES)
    missing = [
        name for name in _public_names(module_name) if f"{module_name}.{name}" not in documented
    ]
    assert not missing, f"not listed in docs/api/*.rst: {missing}"


def test_the_api_reference_lists_nothing_that_is_not_public():
    public = {
        f"{module_name}.{name}"
        for module_name in REFERENCED_MODULES
        for name in _public_names(module_name)
    }
    stale = sorted(_documented_names(API_PAGES) - public)
    assert not stale, f"docs/api/*.rst lists names that are not in __all__: {stale}"


@pytest.mark.skipif(not HAS_PLOTTING, reason="sklearn_dvae.plotting does not exist yet")
def test_the_plotting_reference_lists_every_public_plotting_name():
    spec = importlib.util.spec_from_file_location("sklearn_dvae_docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    page = conf.plotting_reference()
    listed = set(re.findall(r"^   (\w+)$", page, flags=re.MULTILINE))
    assert set(_public_names("sklearn_dvae.plotting")) <= listed


@pytest.mark.parametrize("obj", _public_object_params())
def test_public_docstrings_have_the_numpydoc_sections(obj):
    docstring = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    assert docstring and docstring.strip(), "no docstring"
    sections = _sections(docstring)
    problems = []
    parameters = _named_parameters(obj)
    listed = _listed_parameters(sections.get("Parameters", []) + sections.get("Attributes", []))
    if parameters and "Parameters" not in sections and "Attributes" not in sections:
        problems.append("no Parameters section")
    elif missing := [name for name in parameters if name not in listed]:
        problems.append(f"parameters not documented: {missing}")
    if inspect.isfunction(obj) and not {"Returns", "Yields"} & set(sections):
        problems.append("no Returns section")
    if "Examples" not in sections:
        problems.append("no Examples section")
    elif not any(line.lstrip().startswith(">>>") for line in sections["Examples"]):
        problems.append("the Examples section has no doctest")
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize(("cls", "name"), _public_method_params())
def test_public_methods_have_the_numpydoc_sections(cls, name):
    # The method's own docstring: one inherited from skorch or torch would not say
    # what the override changes, and the docs (autodoc_inherit_docstrings = False)
    # leave out a method without one.
    value = vars(cls)[name]
    function = value.__func__ if isinstance(value, staticmethod | classmethod) else value
    docstring = function.__doc__
    assert docstring and docstring.strip(), "no docstring"
    sections = _sections(docstring)
    problems = []
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind not in variadic and p.name not in ("self", "cls")
    ]
    listed = _listed_parameters(sections.get("Parameters", []))
    if parameters and "Parameters" not in sections:
        problems.append("no Parameters section")
    elif missing := [parameter for parameter in parameters if parameter not in listed]:
        problems.append(f"parameters not documented: {missing}")
    if _returns_a_value(function) and not {"Returns", "Yields"} & set(sections):
        problems.append("no Returns section")
    assert not problems, "; ".join(problems)


def test_every_user_guide_and_metric_page_is_reachable_from_a_toctree():
    pages = [*DOCS.glob("user_guide/*.rst"), *DOCS.glob("metrics/*.rst")]
    toctrees = (DOCS / "user_guide" / "index.rst").read_text() + (
        DOCS / "metrics" / "index.rst"
    ).read_text()
    for page in pages:
        if page.stem != "index":
            assert re.search(rf"^   {page.stem}$", toctrees, flags=re.MULTILINE), page


def test_the_gallery_has_its_header():
    assert (ROOT / "examples" / "README.rst").is_file()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_opens_with_a_titled_docstring(path):
    # sphinx-gallery stops the docs build on an example without one, executed or not.
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=True)
    assert docstring, "no module docstring"
    title, underline = (docstring.splitlines() + [""])[:2]
    assert title.strip() and re.fullmatch(r"=+", underline), "no title underlined with ="
    assert len(underline) >= len(title.strip()), "the title's underline is too short"

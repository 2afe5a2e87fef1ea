"""The house rules that code review would otherwise have to catch: imports flow one way."""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "stdpwidgets"

# what each layer may import from outside the standard library and its own layer
ALLOWED = {
    "core": {"torch"},
    "nn": {"torch", "stdpwidgets.core"},
    "sim": {"torch", "numpy", "sklearn", "stdpwidgets.core", "stdpwidgets.nn"},
    "plots": {"torch", "numpy", "matplotlib", "PIL", "stdpwidgets.core", "stdpwidgets.sim"},  # PIL comes with matplotlib
}
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def imported_modules(path):
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer):
    paths = list((PACKAGE / layer).rglob("*.py")) or [PACKAGE / f"{layer}.py"]
    paths = [p for p in paths if p.exists()]
    if not paths:
        pytest.skip(f"no {layer} package yet")
    allowed = ALLOWED[layer] | {f"stdpwidgets.{layer}"}
    for path in paths:
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in STDLIB:
                continue
            assert any(module == a or module.startswith(a + ".") for a in allowed), (
                f"{path.relative_to(PACKAGE.parent)} imports {module}; {layer} may import only {sorted(allowed)}"
            )


def test_importing_the_package_loads_no_plotting_or_widgets():
    code = (
        "import sys, stdpwidgets; "
        "bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)

"""The layout's rules, checked on the source: the environment (``gome_env``) imports nothing from
``policies`` or ``scripts`` (lazy imports included), no module is over 400 lines, and no module
imports another module's private (underscore) names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gome_env", "policies", "scripts")
MAX_LINES = 400


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an AST imports, anywhere (top level, functions, ``importlib.import_module``
    and ``__import__`` calls with a literal name)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def test_the_environment_imports_nothing_from_policies_or_scripts():
    upward = [f"{_name(path)}:{line} imports {module}" for path in _modules("gome_env")
              for line, module in _imported_modules(ast.parse(path.read_text()))
              if module.split(".")[0] in ("policies", "scripts")]
    assert not upward, "\n".join(upward)


def test_the_import_check_sees_lazy_imports():
    source = "def f():\n    from policies.prompts import clip\n    import importlib\n    importlib.import_module('scripts.x')\n"
    assert [m for _, m in _imported_modules(ast.parse(source))] == ["policies.prompts", "importlib", "scripts.x"]


def test_no_module_is_over_400_lines():
    long = {_name(p): n for p in _modules(*PACKAGES) if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _is_module(package: str, name: str) -> bool:
    base = ROOT.joinpath(*package.split("."), name)
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _private_imports(name: str, source: str) -> list[str]:
    """``from <project module> import _name`` in the module at ``name`` (a path under the root): a
    private name of another module. A submodule named with an underscore, such as
    ``scripts._figures``, is a module of its package and allowed."""
    out = []
    package = ".".join(Path(name).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            parts = package.split(".")
            module = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        if module.split(".")[0] not in PACKAGES:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__") and not _is_module(module, alias.name):
                out.append(f"{name}:{node.lineno} imports {alias.name} from {module}")
    return out


def test_no_module_imports_another_modules_private_names():
    offenders = [line for path in _modules(*PACKAGES) for line in _private_imports(_name(path), path.read_text())]
    assert not offenders, "\n".join(offenders)


def test_the_private_import_check_finds_one():
    source = "from gome_env.records import _hidden\nfrom scripts import _figures\nfrom .text import _marker\n"
    assert _private_imports("gome_env/views/probe.py", source) == [
        "gome_env/views/probe.py:1 imports _hidden from gome_env.records",
        "gome_env/views/probe.py:3 imports _marker from gome_env.views.text"]

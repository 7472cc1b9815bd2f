"""The layout keeps its promises: product packages import no development code, and the settings
documentation is generated from the one settings table."""
import ast
from pathlib import Path

from tools import settings_docs

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("common", "entry", "hooks", "plays", "plex", "stash", "sync_queue", "tasks", "worker")
DEVELOPMENT_PACKAGES = ("devkit", "tests", "tools", "bench")


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            yield from (arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))


def test_product_packages_never_import_development_code():
    offenders = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in imported_modules(path):
                if module.split(".")[0] in DEVELOPMENT_PACKAGES:
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_only_the_queue_opens_sqlite_connections():
    """One Database per process: sync_queue/rows.py's `connect` (used by Database and by the hook's
    stdlib fast path, its own process) is the only `sqlite3.connect` in the product."""
    openers = sorted(str(path.relative_to(ROOT)) for package in PRODUCT_PACKAGES
                     for path in (ROOT / package).rglob("*.py") if "sqlite3.connect(" in path.read_text(encoding="utf-8"))
    assert openers == [str(Path("sync_queue") / "rows.py")]


def test_the_check_sees_an_import_of_development_code(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from devkit.fakes import world\n", encoding="utf-8")
    assert list(imported_modules(probe)) == ["devkit.fakes"]


def test_manifest_settings_block_is_generated_from_the_settings_table():
    current = settings_docs.MANIFEST.read_text(encoding="utf-8")
    assert settings_docs.render_manifest(current) == current, "run: python -m tools.settings_docs --write"


def test_readme_settings_table_is_generated_from_the_settings_table():
    current = settings_docs.README.read_text(encoding="utf-8")
    assert settings_docs.render_readme(current) == current, "run: python -m tools.settings_docs --write"


LAYERS_LINE = "Layers, highest first"


def stated_layers():
    """The layer order as the README's Architecture section states it, highest first."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [line for line in readme.splitlines() if LAYERS_LINE in line]
    order = line.split(":", 1)[1].replace("`", "").strip().rstrip(".")
    return [{name.strip() for name in layer.split(",")} for layer in order.split("→")]


def run_time_imports(path: Path):
    """Imported modules, except names imported only for the type checker (`if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(node) for block in ast.walk(tree)
                   if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
                   for statement in block.body for node in ast.walk(statement)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def test_every_package_imports_only_the_layers_below_it():
    layers = stated_layers()
    assert set().union(*layers) == set(PRODUCT_PACKAGES)
    rank = {package: level for level, layer in enumerate(layers) for package in layer}
    offenders = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in run_time_imports(path):
                top = module.split(".")[0]
                if top in rank and top != package and rank[top] <= rank[package]:
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_the_layer_check_sees_an_upward_import_and_skips_type_only_ones(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from entry.protocol import X\n"
                     "def f():\n    from hooks.snapshot import y\n", encoding="utf-8")
    assert list(run_time_imports(probe)) == ["hooks.snapshot"]

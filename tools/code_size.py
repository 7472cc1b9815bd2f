"""Size limits of product code: no class over 250 lines, none over 150 lines with more than 15
methods, no function over 60 lines. `python -m tools.code_size` lists what is over (exit 1).

Small modules with one job each (STYLE.md): a class or function past these limits has taken on
a second job. Product code only: devkit/, tests/, tools/ and bench/ are not product.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator, List, Union

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("common", "entry", "hooks", "plays", "plex", "stash", "sync_queue", "tasks", "worker")
MAX_CLASS_LINES = 250
MAX_BUSY_CLASS_LINES, MAX_METHODS = 150, 15
MAX_FUNCTION_LINES = 60
Function = Union[ast.FunctionDef, ast.AsyncFunctionDef]


def product_files(root: Path = ROOT) -> Iterator[Path]:
    for package in PRODUCT:
        yield from sorted((root / package).rglob("*.py"))
    yield root / "PlexSync.py"


def _lines(node: ast.AST) -> int:
    return int(getattr(node, "end_lineno", 0) or 0) - int(getattr(node, "lineno", 0) or 0) + 1


def problems(path: Path, root: Path = ROOT) -> List[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            size = _lines(node)
            methods = sum(isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) for child in node.body)
            if size > MAX_CLASS_LINES:
                found.append(f"{where}:{node.lineno}: class {node.name} has {size} lines (limit {MAX_CLASS_LINES})")
            elif size > MAX_BUSY_CLASS_LINES and methods > MAX_METHODS:
                found.append(f"{where}:{node.lineno}: class {node.name} has {size} lines and {methods} methods "
                             f"(limit {MAX_METHODS} methods over {MAX_BUSY_CLASS_LINES} lines)")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _lines(node) > MAX_FUNCTION_LINES:
            found.append(f"{where}:{node.lineno}: function {node.name} has {_lines(node)} lines "
                         f"(limit {MAX_FUNCTION_LINES})")
    return found


def main() -> int:
    found = [problem for path in product_files() for problem in problems(path)]
    print("\n".join(found) if found else "every class and function is within the limits")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

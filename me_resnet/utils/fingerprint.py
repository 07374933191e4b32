"""Fingerprints of the source code on disk and of the installed numeric stack.

A derived result (a cached feature, a trained fold) is reused only if the code and
the libraries that computed it are the ones running now; these hashes say which.
The package's own fingerprints are computed once per process.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.metadata
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
BACKEND_LIBRARIES = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "torch": ("torch",)}


def source_files(entries, root: Path = PACKAGE_ROOT) -> list[Path]:
    """The ``.py`` files of ``entries`` (sub-packages or modules, relative to ``root``) that exist, in a fixed order."""
    files = []
    for entry in entries:
        path = Path(root) / entry
        if path.is_dir():
            files += [file for file in path.rglob("*.py") if "__pycache__" not in file.parts]
        elif path.is_file():
            files.append(path)
    return sorted(files, key=lambda file: file.relative_to(root).as_posix())


def source_fingerprint(entries, root: Path = PACKAGE_ROOT) -> str:
    """Hash of the paths and code (``code_of``) of ``source_files(entries, root)``."""
    return _hash_files(tuple(entries), Path(root))


def package_fingerprint(entries) -> str:
    """``source_fingerprint`` of the installed package, read once per process."""
    return _package_fingerprint(tuple(entries))


@functools.cache
def _package_fingerprint(entries: tuple) -> str:
    return _hash_files(entries, PACKAGE_ROOT)


def code_of(source: bytes) -> bytes:
    """What a module computes: its syntax tree without docstrings (comments never reach the tree).

    A docstring or comment edit leaves the fingerprint alone, so it neither recomputes cached features
    nor retrains finished folds; a file that does not parse is hashed as it is.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()


def _hash_files(entries: tuple, root: Path) -> str:
    digest = hashlib.sha256()
    for file in source_files(entries, root):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(code_of(file.read_bytes()) + b"\0")
    return digest.hexdigest()[:8]


@functools.cache
def stack_versions() -> dict[str, str]:
    """The Keras backend and the versions of the libraries that train a model (``"absent"``: not installed)."""
    keras = importlib.import_module("keras")
    backend = keras.backend.backend()
    versions = {"backend": backend, "keras": keras.__version__}
    for name in ("numpy", *BACKEND_LIBRARIES.get(backend, (backend,))):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions

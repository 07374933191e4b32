"""Fingerprints of the code on disk and of the numeric stack (me_resnet/utils/fingerprint.py)."""

from __future__ import annotations

import importlib.metadata

import keras

from me_resnet.utils.fingerprint import code_of, source_files, source_fingerprint, stack_versions

MODULE = b'"""Module docstring."""\n\ndef f(x):\n    """Function docstring."""\n    return x + 1  # one\n'


def test_docstrings_and_comments_are_not_code_but_an_edit_is():
    reworded = MODULE.replace(b"Module docstring", b"Reworded").replace(b"# one", b"# another comment")
    assert code_of(reworded) == code_of(MODULE)
    assert code_of(MODULE.replace(b"x + 1", b"x + 2")) != code_of(MODULE)
    only_docstring = b'def g():\n    """Nothing else."""\n'
    assert b"Pass" in code_of(only_docstring)  # a body of just a docstring still parses to a function
    assert code_of(b"def broken(:\n") == b"def broken(:\n"  # a file that does not parse is hashed as it is


def test_source_files_in_a_fixed_order_without_caches_or_absent_entries(tmp_path):
    for name in ("pkg/b.py", "pkg/a.py", "pkg/sub/c.py", "pkg/__pycache__/a.py", "pkg/notes.txt", "top.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(MODULE)
    files = source_files(["top.py", "pkg", "missing.py"], tmp_path)
    assert [file.relative_to(tmp_path).as_posix() for file in files] == [
        "pkg/a.py",
        "pkg/b.py",
        "pkg/sub/c.py",
        "top.py",
    ]


def test_fingerprint_follows_code_and_paths_not_entry_order(tmp_path):
    (tmp_path / "a.py").write_bytes(MODULE)
    (tmp_path / "b.py").write_bytes(b"Y = 2\n")
    first = source_fingerprint(["a.py", "b.py"], tmp_path)
    assert len(first) == 8 and int(first, 16) >= 0
    assert source_fingerprint(["b.py", "a.py"], tmp_path) == first
    (tmp_path / "a.py").write_bytes(MODULE.replace(b"Module docstring", b"Reworded"))
    assert source_fingerprint(["a.py", "b.py"], tmp_path) == first
    (tmp_path / "b.py").rename(tmp_path / "c.py")  # the same code under another name
    assert source_fingerprint(["a.py", "c.py"], tmp_path) != first


def test_stack_versions_name_the_backend_and_its_libraries():
    versions = stack_versions()
    assert versions["backend"] == keras.backend.backend() and versions["keras"] == keras.__version__
    assert versions["numpy"] == importlib.metadata.version("numpy")
    assert len(versions) > 3  # the backend's own libraries (tensorflow; jax and jaxlib; torch)

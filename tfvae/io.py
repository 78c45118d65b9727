"""Files that readers find whole or not at all: written under a temporary name, then renamed.

The package's lowest module (the standard library only): training's checkpoints and model.keras,
serving's SavedModel version folders and `tfvae denoise`'s outputs are all written through
`replace_atomically`, so a crash or a SIGKILL at any moment leaves the old file (or folder), the
whole new one, or none, never a part.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Calls `write(temporary path)` next to `path`, then renames what it wrote to `path`.

    The temporary name is hidden (`.partial-<pid>-<name>`) and ends with `path`'s name, so the
    suffix a writer checks (`.keras`, `.weights.h5`) is kept and a server scanning the folder
    (TF Serving's version numbers) ignores it. A file replaces the old one in one atomic step;
    a folder cannot be renamed over a non-empty one, so an old folder is removed just before.
    A failed write leaves no temporary file or folder behind (one a killed process left is
    removed before its process id writes again).

    Args:
        path: str or path, the file or folder to write; its parent folder must exist.
        write: callable, writes a file or a folder at the path it is given.

    Returns:
        `path`, as a `Path`.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from tfvae.io import replace_atomically
        >>> path = replace_atomically(Path(tempfile.mkdtemp()) / "note.txt", lambda p: p.write_text("whole"))
        >>> path.read_text(), [p.name for p in path.parent.iterdir()]
        ('whole', ['note.txt'])
    """
    path = Path(path)
    partial = path.with_name(f".partial-{os.getpid()}-{path.name}")
    _remove(partial)
    try:
        write(partial)
        if partial.is_dir() and path.exists():
            shutil.rmtree(path)
        os.replace(partial, path)
    finally:
        _remove(partial)
    return path


def _remove(path):
    """Delete the file or folder `path` if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

"""Where the halutmatmul ORFS reference archive is, for the tests and the benchmarks (imported as
``tests.orfs_reference`` with the repository root on ``sys.path``). The archive is never part of
the repository: ``.ci/run`` exports ``$HALUT_ORFS_REFERENCE``; a developer checkout finds it in
``../shared`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

REFERENCE_ENV = "HALUT_ORFS_REFERENCE"
REFERENCE_RELATIVE = Path("..") / "shared" / "reference" / "halutmatmul-openroad-reports"


def reference_path(repo_root: Path) -> Path:
    """Where the archive should be: $HALUT_ORFS_REFERENCE, else ../shared/reference/... beside the
    repo (it may not exist: callers skip, and say where they looked)."""
    value = os.environ.get(REFERENCE_ENV)
    return Path(value) if value else Path(repo_root) / REFERENCE_RELATIVE


def find_reference(repo_root: Path) -> Path | None:
    """The halutmatmul ORFS archive, or None when it is not there."""
    candidate = reference_path(repo_root)
    return candidate.resolve() if candidate.is_dir() else None

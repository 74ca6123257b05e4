"""Bootstrap: ``python3 dev.py serve`` runs the API, ``python3 dev.py test`` the suite.

Only a Python 3.11+ interpreter is needed. The first run makes ``.venv`` and installs
the project with the versions pinned in ``constraints.txt``; later runs reinstall only
when ``pyproject.toml`` or ``constraints.txt`` changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".crm-api-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit("crm-api needs Python 3.11 or newer")
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        sys.stderr.write("creating .venv ...\n")
        venv.EnvBuilder(with_pip=True).create(VENV)
    sys.stderr.write("installing crm-api and its dependencies into .venv ...\n")
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run(
        [*pip, "--quiet", "-c", "constraints.txt", "-e", ".[dev]"],
        check=True,
        cwd=ROOT,
    )
    STAMP.write_text(wanted)


def main() -> None:
    args = sys.argv[1:] or ["serve"]
    _ensure_environment()
    if args[0] == "test":
        command = [str(BIN / "python"), "-m", "pytest", *args[1:]]
    else:
        command = [str(BIN / "crm-api"), *args]
    os.chdir(ROOT)
    if os.name == "nt":
        sys.exit(subprocess.call(command))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()

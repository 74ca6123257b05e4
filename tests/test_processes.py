"""Each process entry point loads a complete, consistent set of mapped classes."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["crm_api.worker", "crm_api.app", "crm_api.cli"])
def test_entry_point_configures_every_mapper_in_a_fresh_process(module: str) -> None:
    # A fresh interpreter: the test session has long imported everything.
    code = (
        f"import {module}\n"
        "from sqlalchemy.orm import configure_mappers\n"
        "from crm_api.kernel.db import Base\n"
        "configure_mappers()\n"
        "for table in Base.metadata.sorted_tables:\n"
        "    for key in table.foreign_keys:\n"
        "        key.column  # raises if the referenced table was never imported\n"
        "print('ok')\n"
    )

    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"

from __future__ import annotations

from pathlib import Path

import pytest

from crm_api.embedded import DataDirInUse, exclusive_data_dir, jwt_secret_file


def test_second_serve_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    with (
        exclusive_data_dir(tmp_path),
        pytest.raises(DataDirInUse),
        exclusive_data_dir(tmp_path),
    ):
        pass

    with exclusive_data_dir(tmp_path):
        pass  # free again once the first has stopped


def test_jwt_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = jwt_secret_file(tmp_path)
    second = jwt_secret_file(tmp_path)

    assert first == second
    assert len(first) >= 48
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0

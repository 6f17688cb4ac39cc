import pytest

from kit import binaries
from kit.errors import BinaryMissing


def test_all_tools_found_with_versions():
    found = binaries.find_all()
    assert set(found) == {"prometheus", "promtool", "alertmanager", "amtool", "haproxy"}
    for tool in found.values():
        assert tool.version != "unknown" and tool.path.is_file()


def test_debian_alertmanager_name_is_a_candidate():
    assert "prometheus-alertmanager" in binaries.TOOLS["alertmanager"].candidates


def test_missing_tools_give_one_error_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BinaryMissing) as err:
        binaries.find_all()
    message = str(err.value)
    for name in ("prometheus", "promtool", "alertmanager", "amtool"):
        assert f"{name} not found" in message
    assert "install" in message and "prometheus-alertmanager" in message


def test_haproxy_is_found_in_the_sbin_folders_and_a_missing_one_names_its_package(monkeypatch, tmp_path):
    """Debian installs haproxy into /usr/sbin, which a learner's PATH lacks; without it, the error says what to run."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert binaries.locate("haproxy") is not None
    monkeypatch.setattr(binaries, "_SBIN", ())
    with pytest.raises(BinaryMissing, match="haproxy not found") as err:
        binaries.find_all()
    assert " haproxy" in str(err.value).split("Install them with:")[1]


def test_override_variable_points_at_a_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_PROMTOOL_BIN", str(tmp_path / "nope"))
    assert binaries.locate("promtool") is None
    real = binaries.locate("prometheus")
    monkeypatch.setenv("KIT_PROMTOOL_BIN", str(real))
    assert binaries.locate("promtool") == real


def test_too_old_version_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "amtool"
    fake.write_text("#!/bin/sh\necho 'amtool, version 0.10.0 (branch: x)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KIT_AMTOOL_BIN", str(fake))
    with pytest.raises(BinaryMissing, match="version 0.10.0"):
        binaries.find_all()

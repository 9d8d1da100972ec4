"""``WAVES=1`` works for a normal user: with no sbin folder on PATH (the FST shim once called
``ldconfig``, which lives there), and, where the machine allows it, as an unprivileged account
in a world-writable folder of its own.

Each run is one small cocotb test (the harness's passthrough fixture) in a subprocess with the
given PATH and user; it must leave a non-empty FST.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from testbench.runner import REPO_ROOT

#: The unprivileged account of the second test ("nobody" on Debian and most distributions).
UNPRIVILEGED_UID = 65534

# The child runs the harness's passthrough fixture with waves and prints where the FST went.
CHILD = """
import json, sys
from pathlib import Path
from testbench.runner import REPO_ROOT, run_cocotb
build_dir = Path(sys.argv[1])
run_cocotb(verilog_sources=[REPO_ROOT / "tests" / "fixtures" / "axis_passthrough.v"],
           toplevel="axis_passthrough", test_module="testbench.selftest_passthrough",
           build_dir=build_dir, params_json=json.dumps({"lanes": 4, "width": 8}),
           parameters={"LANES": 4, "W": 8}, testcase="test_directed_and_random",
           waves=True, timeout_s=600)
print(build_dir / "dump.fst")
"""


def _without_sbin(path):
    """``path`` (a PATH value) without any folder that has an ``sbin`` component."""
    return os.pathsep.join(folder for folder in path.split(os.pathsep)
                           if folder and "sbin" not in Path(folder).parts)


def _environment(root, home):
    env = {key: value for key, value in os.environ.items()
           if key not in ("WAVES", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=_without_sbin(os.environ.get("PATH", os.defpath)), PYTHONPATH=str(root),
               HOME=str(home), WAVES="1")
    return env


def _assert_fst(result, build_dir):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    fst = build_dir / "dump.fst"
    assert fst.is_file() and fst.stat().st_size > 0, f"no FST at {fst}"
    assert fst.read_bytes()[0] == 0, "an FST file starts with a header block (type 0)"


def test_without_sbin_on_path(tmp_path):
    assert "sbin" not in _without_sbin("/usr/local/sbin:/usr/bin:/sbin:/usr/sbin/x:/bin")
    result = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "sim")], cwd=tmp_path,
                            env=_environment(REPO_ROOT, tmp_path), capture_output=True,
                            text=True, timeout=900)
    _assert_fst(result, tmp_path / "sim")


def _drop_privileges():
    """The command prefix that runs a program as :data:`UNPRIVILEGED_UID`, or a skip."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user (running as uid "
                    f"{os.geteuid()}, which the sbin test above already covers)")
    try:
        pwd.getpwuid(UNPRIVILEGED_UID)
    except KeyError:
        pytest.skip(f"no account with uid {UNPRIVILEGED_UID} on this machine")
    setpriv, runuser = shutil.which("setpriv"), shutil.which("runuser")
    if setpriv:
        return [setpriv, f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}",
                "--clear-groups"]
    if runuser:
        return [runuser, "-u", pwd.getpwuid(UNPRIVILEGED_UID).pw_name, "--"]
    pytest.skip("neither setpriv nor runuser is installed")


def test_as_an_unprivileged_user():
    """As ``nobody`` in a world-writable folder holding its own copy of the harness (a user's
    clone: the Verilator object cache lives in the clone's build/ folder)."""
    prefix = _drop_privileges()
    folder = Path(tempfile.mkdtemp(prefix="waves-user-"))
    try:
        folder.chmod(0o777)
        root = folder / "clone"
        shutil.copytree(REPO_ROOT / "testbench", root / "testbench",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (root / "tests" / "fixtures").mkdir(parents=True)
        shutil.copy(REPO_ROOT / "tests" / "fixtures" / "axis_passthrough.v",
                    root / "tests" / "fixtures")
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        env = _environment(root, folder)
        # The venv must be readable by that user: when it is not, this machine cannot tell.
        # (Through a shell, as make runs it: setpriv itself may still resolve the path with
        # root's rights before they drop.)
        probe = subprocess.run([*prefix, "/bin/sh", "-c",
                                'exec "$0" -c "import cocotb, testbench.runner"', sys.executable],
                               cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
            pytest.skip(f"uid {UNPRIVILEGED_UID} cannot run {sys.executable} with its packages: "
                        f"{last}")
        result = subprocess.run([*prefix, sys.executable, "-c", CHILD, str(folder / "sim")],
                                cwd=folder, env=env, capture_output=True, text=True,
                                timeout=900)
        _assert_fst(result, folder / "sim")
        assert (folder / "sim" / "dump.fst").stat().st_uid == UNPRIVILEGED_UID
    finally:
        shutil.rmtree(folder, ignore_errors=True)

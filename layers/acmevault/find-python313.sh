#!/bin/sh
# Print the path of a Python 3.13 interpreter (the Lambda runtime's), to compile the layer's bytecode.
# Tried in order: $PYTHON313, python3.13 on PATH, pyenv's 3.13 by path (not through whichever `python`
# comes first), uv's 3.13, then python3. Each candidate is run: a pyenv shim with 3.13 not selected fails.
# With none, one line on stderr saying what to install, and exit 1.

is_313() {
    "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1
}

found() {
    "$1" -c 'import sys; print(sys.executable)'
    exit 0
}

if [ -n "${PYTHON313:-}" ]; then
    is_313 "$PYTHON313" && found "$PYTHON313"
    echo "PYTHON313=$PYTHON313 is not a Python 3.13 interpreter; point it at one (e.g. PYTHON313=\$(pyenv root)/versions/3.13.x/bin/python3.13)" >&2
    exit 1
fi

if command -v python3.13 >/dev/null 2>&1 && is_313 python3.13; then
    found python3.13
fi

pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in $(ls -d "$pyenv_root"/versions/3.13.* 2>/dev/null | sort -V -r); do
    is_313 "$candidate/bin/python3.13" && found "$candidate/bin/python3.13"
done

if command -v uv >/dev/null 2>&1; then
    candidate=$(uv python find --no-python-downloads 3.13 2>/dev/null) && is_313 "$candidate" && found "$candidate"
fi

for candidate in python3 python; do
    command -v "$candidate" >/dev/null 2>&1 && is_313 "$candidate" && found "$candidate"
done

echo "no Python 3.13 found to compile the layer's bytecode for the python3.13 runtime: install it (pyenv install 3.13, uv python install 3.13, or your system's python3.13 package) or set PYTHON313=/path/to/python3.13" >&2
exit 1

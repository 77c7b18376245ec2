#!/usr/bin/env bash
# Rebuilds libewf-python (pyewf) from its source release so that it decompresses E01 chunks with zlib.
#
# Why: the wheels on PyPI are configured with --disable-shared-libs, which also turns zlib off, and fall back
# to libewf's own bit-by-bit inflate: reading a compressed E01 then runs at ~5 MB/s instead of ~110 MB/s
# (measured on this project's benchmark image; see docs/performance.md). The source is the same release the
# wheel was built from; only two build lines change: zlib is detected, and the extension links libz.
#
# Usage: build-pyewf-zlib.sh PYTHON   (the virtual environment's python). Needs zlib1g-dev and gcc.
# If anything fails the PyPI wheel stays installed (correct, only slow) and a warning says so.
set -euo pipefail
PYTHON=${1:?usage: build-pyewf-zlib.sh PYTHON}
if "$PYTHON" -c 'import pyewf, sys; sys.exit(0 if b"libz.so" in open(pyewf.__file__, "rb").read() else 1)' 2>/dev/null; then
  exit 0  # already built with zlib
fi
version=$("$PYTHON" -m pip show libewf-python 2>/dev/null | sed -n 's/^Version: //p')
if [ -z "$version" ]; then echo "build-pyewf-zlib: libewf-python is not installed" >&2; exit 1; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
warn() { echo "warning: pyewf was not rebuilt with zlib ($1); E01 images will be read slowly" >&2; exit 0; }
echo "Rebuilding libewf-python $version with zlib (E01 decompression; about a minute)"
"$PYTHON" -m pip download -q --no-deps --no-binary :all: "libewf-python==$version" -d "$work" || warn "download failed"
tar xzf "$work"/libewf_python-"$version".tar.gz -C "$work" || warn "unpack failed"
src=$(find "$work" -maxdepth 1 -type d -name 'libewf*' | head -n 1)
grep -q 'if test "x$ac_cv_enable_shared_libs" = xno || test "x$ac_cv_with_zlib" = xno' "$src/configure" \
  || warn "its configure script changed"
grep -q '                sources=project_information.sources,' "$src/_build.py" || warn "its _build.py changed"
sed -i 's/if test "x$ac_cv_enable_shared_libs" = xno || test "x$ac_cv_with_zlib" = xno/if test "x$ac_cv_with_zlib" = xno/' \
  "$src/configure"
sed -i 's/^                sources=project_information.sources,$/                sources=project_information.sources,\n                libraries=["z"],/' \
  "$src/_build.py"
"$PYTHON" -m pip install -q --no-deps --force-reinstall --no-cache-dir "$src" || warn "build failed"
"$PYTHON" -c 'import pyewf, sys; sys.exit(0 if b"libz.so" in open(pyewf.__file__, "rb").read() else 1)' \
  || warn "the rebuilt module does not use zlib"
echo "pyewf now decompresses with zlib"

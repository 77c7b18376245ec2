#!/usr/bin/env bash
# Installs Debian packages only when `dpkg -s` says they are missing.
# Each argument is a package, or alternatives separated by '|' (the first one apt knows is installed),
# because some libraries changed name between Debian releases (libarchive13 -> libarchive13t64).
set -euo pipefail
missing=()
for spec in "$@"; do
  found=""
  IFS='|' read -ra alternatives <<<"$spec"
  for pkg in "${alternatives[@]}"; do
    if dpkg -s "$pkg" >/dev/null 2>&1; then found=$pkg; break; fi
  done
  [ -n "$found" ] && continue
  missing+=("$spec")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
for spec in "${missing[@]}"; do
  IFS='|' read -ra alternatives <<<"$spec"
  installed=""
  for pkg in "${alternatives[@]}"; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" && installed=$pkg && break
    fi
  done
  if [ -z "$installed" ]; then
    echo "error: none of '$spec' could be installed with apt-get; install it by hand and re-run make" >&2
    exit 1
  fi
done

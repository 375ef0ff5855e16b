#!/usr/bin/env bash
# Installs what Crest needs on a Debian/Ubuntu machine when it is missing: PostgreSQL server
# binaries (initdb, postgres), Nix (nix-bin: the real build backend), git, Chromium (the
# status site's browser tests drive it headless), and the Go modules. Safe to run again: it
# installs nothing that is already there.
set -euo pipefail

need=()
pg_found=false
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && pg_found=true
done
$pg_found || need+=(postgresql)
command -v nix-build >/dev/null 2>&1 || need+=(nix-bin)
command -v git >/dev/null 2>&1 || need+=(git)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root or sudo to install: apt-get install ${need[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null || true   # a stale index still installs what it knows
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Nothing is configured here: no /nix, no nix.conf, no build group. Crest runs Debian's
# single-user Nix as installed (as root it creates /nix itself) and passes the options it
# needs on every command (activities/nix: RequiredOptions, DefaultOptions).

go mod download

#!/bin/sh
# ld: the demo collection's linker. It resolves every symbol a package uses against the
# libraries the package is built with and fails, like a real linker, on an undefined
# reference.
#
#   ld MAP "LIB:SYMBOL ..." DEP...    writes one "SYMBOL => LIB-VERSION" line per symbol to MAP
set -eu
if [ "${1:-}" = --version ]; then
  echo "ld (Crest demo binutils) 2.41"
  exit 0
fi
map=$1
uses=$2
shift 2
: >"$map"
status=0
for u in $uses; do
  lib=${u%%:*}
  sym=${u#*:}
  dir=
  for d in "$@"; do
    if [ "$(sed -n 's/^name=//p' "$d/nix-support/info")" = "$lib" ]; then dir=$d; fi
  done
  if [ -z "$dir" ]; then
    echo "ld: error: cannot find -l$lib (needed for '$sym')" >&2
    status=1
    continue
  fi
  ver=$(sed -n 's/^version=//p' "$dir/nix-support/info")
  if grep -qx "export $sym" "$dir/nix-support/info"; then
    echo "$sym => $lib-$ver" >>"$map"
  else
    echo "ld: error: undefined reference to '$sym'" >&2
    echo "ld: note: $lib-$ver does not provide '$sym'; it exports: $(sed -n 's/^export //p' "$dir/nix-support/info" | tr '\n' ' ')" >&2
    status=1
  fi
done
exit $status

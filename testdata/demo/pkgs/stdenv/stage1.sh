# Builder of stdenv-stage1: checks the bootstrap linker and wraps it, as Nixpkgs' cc-wrapper
# wraps the bootstrap compiler for the next stage.
set -eu
echo "stdenv-stage1: checking the bootstrap linker of $stage0"
"$stage0/bin/ld" --version
mkdir -p "$out/bin" "$out/nix-support"
printf '#!/bin/sh\n# ld wrapper of %s\nexec %s/bin/ld "$@"\n' "$pname-$version" "$stage0" >"$out/bin/ld"
chmod +x "$out/bin/ld"
printf 'name=%s\nversion=%s\nsystem=%s\n' "$pname" "$version" "$system" >"$out/nix-support/info"
printf 'dep %s\n' "$(sed -n 's/^name=//p' "$stage0/nix-support/info")-$(sed -n 's/^version=//p' "$stage0/nix-support/info")" >>"$out/nix-support/info"

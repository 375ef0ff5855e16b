# Builder of stdenv-stage0, the bootstrap tools: installs the demo's linker, run by the
# host's /bin/sh with the host's PATH (Nixpkgs unpacks prebuilt binaries here instead).
set -eu
echo "stdenv-stage0: installing the bootstrap linker"
mkdir -p "$out/bin" "$out/nix-support"
cp "$ld" "$out/bin/ld"
chmod +x "$out/bin/ld"
"$out/bin/ld" --version
printf 'name=%s\nversion=%s\nsystem=%s\n' "$pname" "$version" "$system" >"$out/nix-support/info"

# Builder of stdenv: installs the setup script every package builder sources, bound to the
# stage1 tools.
set -eu
echo "stdenv: installing setup for $system"
mkdir -p "$out/nix-support"
sed -e "s|@stage1@|$stage1|g" -e "s|@version@|$version|g" "$setup" >"$out/setup"
. "$out/setup"
ld --version
printf 'name=%s\nversion=%s\nsystem=%s\n' "$pname" "$version" "$system" >"$out/nix-support/info"
printf 'dep %s\n' "$(infoField "$stage1" name)-$(infoField "$stage1" version)" >>"$out/nix-support/info"

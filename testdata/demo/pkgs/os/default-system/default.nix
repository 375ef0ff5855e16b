# default-system: the closure a default installation boots with (the demo's NixOS system).
# A protected root: nothing in its closure may be marked broken.
{ mkPackage, coreutils, shell, pkgtool, initd, netd }:

mkPackage {
  pname = "default-system";
  version = "24.11";
  deps = [ coreutils shell pkgtool initd netd ];
  postInstall = ''
    mkdir -p "$out/sw/bin"
    for d in $deps; do
      for p in "$d"/bin/*; do ln -s "$p" "$out/sw/bin/"; done
    done
    log "system profile has $(ls "$out/sw/bin" | wc -l) programs"
  '';
  # boot runs every program of the system profile and checks, as a dynamic loader checks
  # sonames, that each runs with libraries of the ABI (major.minor) it was built against:
  # nix-support/info says what a program was built against, nix-support/runtime what it
  # runs with. They agree in any build from source; a graft onto a library of another ABI
  # makes them differ.
  tests.boot.script = ''
    n=0
    for p in "$package"/sw/bin/*; do
      prog=$(basename "$p")
      "$p" --version >/dev/null || fail "$prog does not run"
      dir=$(readlink "$p")
      dir=''${dir%/bin/*}
      while read -r name path; do
        case $name in "#"*) continue ;; esac
        built=$(sed -n "s/^dep $name-\([0-9]\)/\1/p" "$dir/nix-support/info")
        runs=$(sed -n 's/^version=//p' "$path/nix-support/info")
        [ "''${built%.*}" = "''${runs%.*}" ] ||
          fail "$prog was built against $name $built but runs with $name $runs: ABI ''${built%.*} is not ''${runs%.*}"
      done <"$dir/nix-support/runtime"
      n=$((n + 1))
    done
    [ "$n" -eq 5 ] || fail "expected 5 programs in the system profile, found $n"
  '';
  meta.maintainers = [ "frank" ];
}

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
  tests.boot.script = ''
    n=0
    for p in "$package"/sw/bin/*; do
      "$p" --version >/dev/null || fail "$(basename "$p") does not run"
      n=$((n + 1))
    done
    [ "$n" -eq 5 ] || fail "expected 5 programs in the system profile, found $n"
  '';
  meta.maintainers = [ "frank" ];
}

# libcore: the bottom library most of the collection links against (the demo's glibc).
# libcore 2 replaces core_legacy_timer with core_timer and formats with 6 decimals by default.
{ mkPackage }:

mkPackage {
  pname = "libcore";
  version = "2.0.0";
  exports = [ "core_init" "core_alloc" "core_free" "core_fmt" "core_log" "core_timer" ];
  defines.default_precision = 6;
  tests.precision.script = ''
    grep -qx "define default_precision=6" "$package/nix-support/info" || fail "default_precision is not 6"
  '';
  meta.maintainers = [ "alice" ];
}

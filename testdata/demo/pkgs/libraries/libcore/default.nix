# libcore: the bottom library most of the collection links against (the demo's glibc).
# libcore 1.4 still provides core_legacy_timer; formatting defaults to 3 decimals.
{ mkPackage }:

mkPackage {
  pname = "libcore";
  version = "1.4.0";
  exports = [ "core_init" "core_alloc" "core_free" "core_fmt" "core_log" "core_legacy_timer" ];
  defines.default_precision = 3;
  tests.precision.script = ''
    grep -qx "define default_precision=3" "$package/nix-support/info" || fail "default_precision is not 3"
  '';
  meta.maintainers = [ "alice" ];
}

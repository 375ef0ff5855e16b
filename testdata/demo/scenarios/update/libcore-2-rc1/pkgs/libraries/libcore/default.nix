# libcore: the bottom library most of the collection links against (the demo's glibc).
# The first release candidate of libcore 2, superseded by update/libcore-2.
{ mkPackage }:

mkPackage {
  pname = "libcore";
  version = "2.0.0-rc1";
  exports = [ "core_init" "core_alloc" "core_free" "core_fmt" "core_log" "core_legacy_timer" "core_timer" ];
  defines.default_precision = 3;
  tests.precision.script = ''
    grep -qx "define default_precision=3" "$package/nix-support/info" || fail "default_precision is not 3"
  '';
  meta.maintainers = [ "alice" ];
}

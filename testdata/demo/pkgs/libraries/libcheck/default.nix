# libcheck: a test framework built with libparse (it parses test specifications); its own
# test checks libparse and itself with the check-run tool. See libparse.
{ mkPackage, libcore, libparse }:

mkPackage {
  pname = "libcheck";
  version = "1.0.3";
  deps = [ libcore libparse ];
  exports = [ "check_run" "check_assert" ];
  uses = {
    libcore = [ "core_log" ];
    libparse = [ "parse_tokens" ];
  };
  programs.check-run = ''
    [ $# -ge 1 ] || { echo "usage: check-run PACKAGE..." >&2; exit 2; }
    for p in "$@"; do
      n=$(sed -n 's/^name=//p' "$p/nix-support/info")
      for s in $(sed -n 's/^export //p' "$p/nix-support/info"); do
        grep -qx "$s" "$p/lib/$n.so" || { echo "check-run: $n: lib/$n.so lacks $s" >&2; exit 1; }
      done
      echo "check-run: $n ok"
    done
  '';
  tests.self-host = {
    deps = [ libparse ];
    script = ''
      "$package/bin/check-run" "${libparse}" "$package" | grep -qx "check-run: libparse ok" || fail "check-run did not pass libparse"
    '';
  };
  meta.maintainers = [ "carol" ];
}

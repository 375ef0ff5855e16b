{ mkPackage, zlib }:

mkPackage {
  pname = "zpipe";
  version = "1.3";
  deps = [ zlib ];
  uses.zlib = [ "deflate" "inflate" ];
  programs.zpipe = ''
    cat
  '';
  tests.roundtrip.script = ''
    [ "$(echo payload | "$package/bin/zpipe")" = payload ] || fail "zpipe does not round-trip"
  '';
  meta.maintainers = [ "bob" ];
}

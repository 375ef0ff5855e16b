{ mkPackage, libhttp, libconfig }:

mkPackage {
  pname = "webd";
  version = "1.25.0";
  deps = [ libhttp libconfig ];
  uses = {
    libhttp = [ "http_serve" ];
    libconfig = [ "config_load" ];
  };
  programs.webd = ''
    echo "webd: serving with libhttp $libhttp_version, TLS by $(cat "$(lib_path libcrypto)/share/libcrypto/release")"
  '';
  tests.serve.script = ''
    "$package/bin/webd" | grep -q "^webd: serving with libhttp " || fail "webd does not report its libhttp"
    "$package/bin/webd" --libs | grep -q "^libhttp-" || fail "webd is not linked with libhttp"
  '';
  meta.maintainers = [ "carol" ];
}

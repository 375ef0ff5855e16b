{ mkPackage, libhttp }:

mkPackage {
  pname = "fetch";
  version = "8.5.0";
  deps = [ libhttp ];
  uses.libhttp = [ "http_get" ];
  programs.fetch = ''
    echo "fetch: would GET ''${1:-http://localhost/} with libhttp $libhttp_version, TLS by $(cat "$(lib_path libcrypto)/share/libcrypto/release")"
  '';
  meta.maintainers = [ "carol" ];
}

# pkgtool verifies package signatures, still with SHA-1.
{ mkPackage, libarchive, libjson, libcrypto }:

mkPackage {
  pname = "pkgtool";
  version = "1.0.0";
  deps = [ libarchive libjson libcrypto ];
  uses = {
    libarchive = [ "archive_read" ];
    libjson = [ "json_parse" ];
    libcrypto = [ "crypto_sha1" ];
  };
  programs.pkgtool = ''
    echo "pkgtool: 0 packages installed; signatures checked by $(cat "$(lib_path libcrypto)/share/libcrypto/release")"
  '';
  meta.maintainers = [ "frank" ];
}

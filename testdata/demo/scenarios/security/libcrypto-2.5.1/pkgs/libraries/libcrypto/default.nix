# libcrypto 2.5.1: the security fix for CVE-2026-0001 (a timing side channel in AES), with
# the API of 2.5.0. Its store path name has the length of 2.5.0's, so dependents can be
# grafted onto it without a rebuild.
{ mkPackage, libcore }:

mkPackage {
  pname = "libcrypto";
  version = "2.5.1";
  deps = [ libcore ];
  exports = [ "crypto_sha1" "crypto_sha256" "crypto_aes" ];
  uses.libcore = [ "core_alloc" ];
  # What programs that use libcrypto show at run time (lib_path libcrypto).
  postInstall = ''
    mkdir -p $out/share/libcrypto
    echo "libcrypto $version (fixes CVE-2026-0001)" >$out/share/libcrypto/release
  '';
  meta.maintainers = [ "frank" "bob" ];
}

# libcrypto 2.5 still provides SHA-1, which pkgtool's signature check relies on.
{ mkPackage, libcore }:

mkPackage {
  pname = "libcrypto";
  version = "2.5.0";
  deps = [ libcore ];
  exports = [ "crypto_sha1" "crypto_sha256" "crypto_aes" ];
  uses.libcore = [ "core_alloc" ];
  # What programs that use libcrypto show at run time (lib_path libcrypto).
  postInstall = ''
    mkdir -p $out/share/libcrypto
    echo "libcrypto $version" >$out/share/libcrypto/release
  '';
  meta.maintainers = [ "frank" "bob" ];
}

# libcrypto 3 drops SHA-1 and adds SHA-512.
{ mkPackage, libcore }:

mkPackage {
  pname = "libcrypto";
  version = "3.0.0";
  deps = [ libcore ];
  exports = [ "crypto_sha256" "crypto_sha512" "crypto_aes" ];
  uses.libcore = [ "core_alloc" ];
  # What programs that use libcrypto show at run time (lib_path libcrypto).
  postInstall = ''
    mkdir -p $out/share/libcrypto
    echo "libcrypto $version" >$out/share/libcrypto/release
  '';
  meta.maintainers = [ "frank" "bob" ];
}

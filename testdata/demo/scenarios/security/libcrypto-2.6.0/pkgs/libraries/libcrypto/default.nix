# libcrypto 2.6.0: the security fix for CVE-2026-0002 (a padding oracle in AES-CBC) needs a
# new ABI, 2.6: the API of 2.5.0 and a store path name of the same length, so grafting its
# dependents looks safe, but programs built against 2.5 must not run with it, and the
# default system's boot test says so once they are grafted. Rebuilt against it, they run.
{ mkPackage, libcore }:

mkPackage {
  pname = "libcrypto";
  version = "2.6.0";
  deps = [ libcore ];
  exports = [ "crypto_sha1" "crypto_sha256" "crypto_aes" ];
  uses.libcore = [ "core_alloc" ];
  # What programs that use libcrypto show at run time (lib_path libcrypto).
  postInstall = ''
    mkdir -p $out/share/libcrypto
    echo "libcrypto $version (fixes CVE-2026-0002)" >$out/share/libcrypto/release
  '';
  meta.maintainers = [ "frank" "bob" ];
}

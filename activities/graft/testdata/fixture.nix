# Fixtures of graft_test.go on the demo collection (testdata/demo of the repository):
#   libcrypto        the demo's libcrypto 2.5.0, as locked in a tag
#   patched          libcrypto 2.5.1 with a security fix (same name length); `nonce` makes it
#                    a new derivation on every test run, so that it is built from source
#   patchedLonger    libcrypto 2.5.10: a name of another length (an unsafe graft)
#   backup           a program that uses libcrypto at run time: it reads the library's
#                    nix-support/info, so its output refers to the library's store path
#                    (the demo's own programs refer to their libraries through
#                    nix-support/runtime, see demoBackup)
#   backupRebuilt    backup rebuilt from source against `patched`: the build a graft avoids
#   embedder         a package that copies libcrypto's shared object into its own output
#   demoBackup       the demo's backup as it is
#   demoHello        the demo's hello, which does not use libcrypto
#   tls, browser     a library that refers to libcrypto at run time and a program that refers
#                    to the library only: grafting the program needs the library's graft
{ system ? builtins.currentSystem, hostPath ? "/usr/bin:/bin", demo, nonce ? "0" }:

let
  pkgs = import (demo + "/default.nix") { inherit system hostPath; };

  libcryptoAt = version: defines: pkgs.mkPackage {
    pname = "libcrypto";
    inherit version defines;
    deps = [ pkgs.libcore ];
    exports = [ "crypto_sha1" "crypto_sha256" "crypto_aes" ];
    uses.libcore = [ "core_alloc" ];
  };

  backupWith = libcrypto: pkgs.mkPackage {
    pname = "backup";
    version = "1.2.0";
    deps = [ pkgs.libarchive pkgs.libsync libcrypto ];
    uses = {
      libarchive = [ "archive_write" ];
      libsync = [ "sync_push" ];
      libcrypto = [ "crypto_sha256" ];
    };
    programs.backup = ''
      info=${libcrypto}/nix-support/info
      echo "backup: checksums by libcrypto $(sed -n 's/^version=//p' $info)$(sed -n 's/^define fixes=/, fixes /p' $info)"
    '';
  };

  tls = pkgs.mkPackage {
    pname = "libtls";
    version = "1.8.0";
    deps = [ pkgs.libcrypto ];
    exports = [ "tls_connect" ];
    uses.libcrypto = [ "crypto_sha256" ];
    postInstall = ''
      echo "crypto=${pkgs.libcrypto}" >$out/nix-support/runtime
    '';
  };

  patched = libcryptoAt "2.5.1" { fixes = "CVE-2026-0001"; build = nonce; };
in
{
  inherit (pkgs) libcrypto;
  inherit patched;
  patchedLonger = libcryptoAt "2.5.10" { fixes = "CVE-2026-0001"; };
  backup = backupWith pkgs.libcrypto;
  backupRebuilt = backupWith patched;
  embedder = pkgs.mkPackage {
    pname = "vendored";
    version = "1.0.0";
    deps = [ pkgs.libcrypto ];
    postInstall = ''
      mkdir -p $out/lib
      cp ${pkgs.libcrypto}/lib/libcrypto.so $out/lib/libcrypto-vendored.so
    '';
  };
  demoBackup = pkgs.backup;
  demoHello = pkgs.hello;
  inherit tls;
  browser = pkgs.mkPackage {
    pname = "browser";
    version = "3.0.0";
    deps = [ tls ];
    uses.libtls = [ "tls_connect" ];
    programs.browser = ''
      echo "browser: TLS by $(sed -n 's/^crypto=//p' ${tls}/nix-support/runtime)"
    '';
  };
}

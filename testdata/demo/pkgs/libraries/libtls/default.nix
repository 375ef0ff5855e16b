{ mkPackage, libcrypto, libnet }:

mkPackage {
  pname = "libtls";
  version = "1.8.0";
  deps = [ libcrypto libnet ];
  exports = [ "tls_wrap" "tls_handshake" ];
  uses = {
    libcrypto = [ "crypto_sha256" "crypto_aes" ];
    libnet = [ "net_dial" ];
  };
  meta.maintainers = [ "bob" ];
}

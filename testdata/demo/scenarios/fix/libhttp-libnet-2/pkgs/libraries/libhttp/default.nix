# libhttp dials with net_dial, which libnet provides since 1.9 (libnet 2 removes net_connect).
{ mkPackage, libnet, libtls }:

mkPackage {
  pname = "libhttp";
  version = "1.2.1";
  deps = [ libnet libtls ];
  exports = [ "http_get" "http_serve" ];
  uses = {
    libnet = [ "net_dial" "net_listen" ];
    libtls = [ "tls_wrap" ];
  };
  meta.maintainers = [ "carol" ];
}

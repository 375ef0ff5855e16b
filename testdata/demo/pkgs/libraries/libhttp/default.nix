# libhttp 1.2.0 still dials with net_connect, which libnet 2 removes.
{ mkPackage, libnet, libtls }:

mkPackage {
  pname = "libhttp";
  version = "1.2.0";
  deps = [ libnet libtls ];
  exports = [ "http_get" "http_serve" ];
  uses = {
    libnet = [ "net_connect" "net_listen" ];
    libtls = [ "tls_wrap" ];
  };
  meta.maintainers = [ "carol" ];
}

# libnet 1.9 provides both net_connect (deprecated) and its replacement net_dial.
{ mkPackage, libcore }:

mkPackage {
  pname = "libnet";
  version = "1.9.0";
  deps = [ libcore ];
  exports = [ "net_connect" "net_dial" "net_listen" "net_close" ];
  uses.libcore = [ "core_alloc" "core_log" ];
  meta.maintainers = [ "bob" ];
}

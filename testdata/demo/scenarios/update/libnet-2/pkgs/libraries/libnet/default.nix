# libnet 2 removes the deprecated net_connect; use net_dial.
{ mkPackage, libcore }:

mkPackage {
  pname = "libnet";
  version = "2.0.0";
  deps = [ libcore ];
  exports = [ "net_dial" "net_listen" "net_close" "net_poll" ];
  uses.libcore = [ "core_alloc" "core_log" ];
  meta.maintainers = [ "bob" ];
}

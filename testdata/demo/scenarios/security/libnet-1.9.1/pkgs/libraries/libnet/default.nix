# libnet 1.9.1: the security fix for CVE-2026-0003 (a buffer overread in net_dial's
# address parsing), with the API of 1.9.0. Its store path name has the length of 1.9.0's,
# so dependents can be grafted onto it without a rebuild, and with libcrypto's fix too.
{ mkPackage, libcore }:

mkPackage {
  pname = "libnet";
  version = "1.9.1";
  deps = [ libcore ];
  exports = [ "net_connect" "net_dial" "net_listen" "net_close" ];
  uses.libcore = [ "core_alloc" "core_log" ];
  meta.maintainers = [ "bob" ];
}

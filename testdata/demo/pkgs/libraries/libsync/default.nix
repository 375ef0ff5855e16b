{ mkPackage, libdb, libnet }:

mkPackage {
  pname = "libsync";
  version = "2.0.1";
  deps = [ libdb libnet ];
  exports = [ "sync_push" "sync_pull" ];
  uses = {
    libdb = [ "db_query" ];
    libnet = [ "net_dial" ];
  };
  meta.maintainers = [ "erin" ];
}

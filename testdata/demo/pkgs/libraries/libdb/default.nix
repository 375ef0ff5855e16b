{ mkPackage, libcore, libjson }:

mkPackage {
  pname = "libdb";
  version = "5.3.28";
  deps = [ libcore libjson ];
  exports = [ "db_open" "db_query" ];
  uses = {
    libcore = [ "core_alloc" "core_free" ];
    libjson = [ "json_parse" "json_emit" ];
  };
  meta.maintainers = [ "erin" ];
}

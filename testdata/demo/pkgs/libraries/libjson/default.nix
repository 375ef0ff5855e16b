{ mkPackage, libcore }:

mkPackage {
  pname = "libjson";
  version = "2.1.0";
  deps = [ libcore ];
  exports = [ "json_parse" "json_emit" ];
  uses.libcore = [ "core_alloc" "core_fmt" ];
  meta.maintainers = [ "erin" ];
}

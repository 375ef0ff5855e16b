{ mkPackage, libcore, zlib }:

mkPackage {
  pname = "libxml";
  version = "2.12.0";
  deps = [ libcore zlib ];
  exports = [ "xml_parse" "xml_xpath" ];
  uses = {
    libcore = [ "core_alloc" ];
    zlib = [ "inflate" ];
  };
  meta.maintainers = [ "erin" ];
}

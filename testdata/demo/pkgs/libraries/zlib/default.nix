{ mkPackage }:

mkPackage {
  pname = "zlib";
  version = "1.3.1";
  exports = [ "deflate" "inflate" "crc32" ];
  meta.maintainers = [ "bob" ];
}

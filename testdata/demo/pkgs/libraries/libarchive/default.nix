{ mkPackage, libcore, zlib }:

mkPackage {
  pname = "libarchive";
  version = "3.7.2";
  deps = [ libcore zlib ];
  exports = [ "archive_read" "archive_write" ];
  uses = {
    libcore = [ "core_alloc" "core_free" ];
    zlib = [ "deflate" "inflate" "crc32" ];
  };
  meta.maintainers = [ "frank" ];
}

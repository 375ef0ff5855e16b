{ mkPackage, libcore, zlib }:

mkPackage {
  pname = "libimage";
  version = "1.6.0";
  deps = [ libcore zlib ];
  exports = [ "image_load" "image_scale" ];
  uses = {
    libcore = [ "core_alloc" ];
    zlib = [ "inflate" ];
  };
  meta.maintainers = [ "dave" ];
}

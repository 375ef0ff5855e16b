{ mkPackage, libcore }:

mkPackage {
  pname = "libterm";
  version = "6.4";
  deps = [ libcore ];
  exports = [ "term_init" "term_color" ];
  uses.libcore = [ "core_init" ];
  meta.maintainers = [ "dave" ];
}

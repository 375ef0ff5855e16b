{ mkPackage, libterm }:

mkPackage {
  pname = "libreadline";
  version = "8.2";
  deps = [ libterm ];
  exports = [ "readline" "add_history" ];
  uses.libterm = [ "term_init" ];
  meta.maintainers = [ "dave" ];
}

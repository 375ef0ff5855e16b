{ mkPackage, libscript, libconfig }:

mkPackage {
  pname = "libplugin";
  version = "1.1.0";
  deps = [ libscript libconfig ];
  exports = [ "plugin_load" ];
  uses = {
    libscript = [ "script_eval" ];
    libconfig = [ "config_load" ];
  };
  meta.maintainers = [ "carol" ];
}

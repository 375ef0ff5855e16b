{ mkPackage, libyaml, libjson }:

mkPackage {
  pname = "libconfig";
  version = "1.7.3";
  deps = [ libyaml libjson ];
  exports = [ "config_load" ];
  uses = {
    libyaml = [ "yaml_parse" ];
    libjson = [ "json_parse" ];
  };
  meta.maintainers = [ "frank" ];
}

{ mkPackage }:

mkPackage {
  pname = "libyaml";
  version = "0.2.5";
  exports = [ "yaml_parse" "yaml_emit" ];
  meta.maintainers = [ "erin" ];
}

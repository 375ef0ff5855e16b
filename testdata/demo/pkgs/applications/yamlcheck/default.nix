{ mkPackage, libyaml }:

mkPackage {
  pname = "yamlcheck";
  version = "1.33";
  deps = [ libyaml ];
  uses.libyaml = [ "yaml_parse" ];
  programs.yamlcheck = ''
    echo "yamlcheck: 0 problems"
  '';
  meta.maintainers = [ "erin" ];
}

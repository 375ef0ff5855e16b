{ mkPackage, libjson }:

mkPackage {
  pname = "jsonfmt";
  version = "1.6";
  deps = [ libjson ];
  uses.libjson = [ "json_parse" "json_emit" ];
  programs.jsonfmt = ''
    echo "{}"
  '';
  meta.maintainers = [ "erin" ];
}

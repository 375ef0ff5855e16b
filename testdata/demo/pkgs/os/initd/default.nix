{ mkPackage, libcore, libconfig }:

mkPackage {
  pname = "initd";
  version = "254.0";
  deps = [ libcore libconfig ];
  uses = {
    libcore = [ "core_init" ];
    libconfig = [ "config_load" ];
  };
  programs.initd = ''
    echo "initd: reached target default"
  '';
  meta.maintainers = [ "frank" ];
}

{ mkPackage, libnet, libconfig }:

mkPackage {
  pname = "netd";
  version = "1.0.2";
  deps = [ libnet libconfig ];
  uses = {
    libnet = [ "net_listen" "net_dial" ];
    libconfig = [ "config_load" ];
  };
  programs.netd = ''
    echo "netd: 1 interface up"
  '';
  meta.maintainers = [ "bob" "frank" ];
}

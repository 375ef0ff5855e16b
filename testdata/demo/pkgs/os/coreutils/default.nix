{ mkPackage, libcore }:

mkPackage {
  pname = "coreutils";
  version = "9.4";
  deps = [ libcore ];
  uses.libcore = [ "core_init" "core_fmt" "core_alloc" ];
  programs.coreutils = ''
    echo "coreutils: multi-call binary ($*)"
  '';
  meta.maintainers = [ "frank" ];
}

{ mkPackage, libcore, libreadline }:

mkPackage {
  pname = "shell";
  version = "5.2.21";
  deps = [ libcore libreadline ];
  uses = {
    libcore = [ "core_init" ];
    libreadline = [ "readline" "add_history" ];
  };
  programs.shell = ''
    echo "shell: non-interactive"
  '';
  meta.maintainers = [ "frank" ];
}

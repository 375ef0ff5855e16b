# tetrix paces its game loop with core_timer (libcore 2).
{ mkPackage, libcore, libui }:

mkPackage {
  pname = "tetrix";
  version = "0.9.2";
  deps = [ libcore libui ];
  uses = {
    libcore = [ "core_init" "core_timer" ];
    libui = [ "ui_window" "ui_draw" ];
  };
  programs.tetrix = ''
    echo "tetrix: press any key"
  '';
  meta.maintainers = [ "erin" ];
}

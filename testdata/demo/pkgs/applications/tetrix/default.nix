# tetrix still paces its game loop with core_legacy_timer.
{ mkPackage, libcore, libui }:

mkPackage {
  pname = "tetrix";
  version = "0.9.1";
  deps = [ libcore libui ];
  uses = {
    libcore = [ "core_init" "core_legacy_timer" ];
    libui = [ "ui_window" "ui_draw" ];
  };
  programs.tetrix = ''
    echo "tetrix: press any key"
  '';
  meta.maintainers = [ "erin" ];
}

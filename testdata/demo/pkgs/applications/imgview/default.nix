{ mkPackage, libimage, libui }:

mkPackage {
  pname = "imgview";
  version = "0.7.0";
  deps = [ libimage libui ];
  uses = {
    libimage = [ "image_load" "image_scale" ];
    libui = [ "ui_window" ];
  };
  programs.imgview = ''
    echo "imgview: nothing to show"
  '';
  meta.maintainers = [ "dave" ];
}

{ mkPackage, libterm, libimage }:

mkPackage {
  pname = "libui";
  version = "0.4.0";
  deps = [ libterm libimage ];
  exports = [ "ui_window" "ui_draw" ];
  uses = {
    libterm = [ "term_color" ];
    libimage = [ "image_load" ];
  };
  meta.maintainers = [ "dave" ];
}

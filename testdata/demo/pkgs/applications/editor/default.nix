{ mkPackage, libplugin, libui, libreadline }:

mkPackage {
  pname = "editor";
  version = "9.1";
  deps = [ libplugin libui libreadline ];
  uses = {
    libplugin = [ "plugin_load" ];
    libui = [ "ui_window" "ui_draw" ];
    libreadline = [ "readline" "add_history" ];
  };
  programs.editor = ''
    echo "editor: plugins via libplugin $libplugin_version"
  '';
  tests.plugins.script = ''
    "$package/bin/editor" | grep -q "libplugin 1\." || fail "editor does not load libplugin 1.x"
  '';
  meta.maintainers = [ "dave" ];
}

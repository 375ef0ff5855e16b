{ mkPackage, libcore }:

mkPackage {
  pname = "hello";
  version = "2.12.1";
  deps = [ libcore ];
  uses.libcore = [ "core_init" "core_fmt" ];
  programs.hello = ''
    echo "Hello, world!"
  '';
  tests.greeting.script = ''
    [ "$("$package/bin/hello")" = "Hello, world!" ] || fail "hello did not greet the world"
  '';
  meta.maintainers = [ "alice" ];
}

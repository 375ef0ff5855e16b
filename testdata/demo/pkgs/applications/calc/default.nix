# calc prints quotients with libcore's default precision.
{ mkPackage, libcore, libparse, libterm }:

mkPackage {
  pname = "calc";
  version = "1.0.0";
  deps = [ libcore libparse libterm ];
  uses = {
    libcore = [ "core_fmt" ];
    libparse = [ "parse_tokens" ];
    libterm = [ "term_init" ];
  };
  programs.calc = ''
    [ $# -eq 2 ] || { echo "usage: calc A B (prints A/B)" >&2; exit 2; }
    awk -v a="$1" -v b="$2" -v p="$libcore_default_precision" 'BEGIN { printf "%." p "f\n", a / b }'
  '';
  tests.arith.script = ''
    got=$("$package/bin/calc" 1 3)
    [ "$got" = "0.333" ] || fail "calc 1 3: expected 0.333, got $got"
  '';
  meta.maintainers = [ "alice" ];
}

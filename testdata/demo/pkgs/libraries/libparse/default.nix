# libparse's test suite runs with libcheck, which is itself built with libparse: the two form
# a strongly connected pair in the index (test dependencies count as dependencies), although
# their derivations are not cyclic.
{ mkPackage, libcore, libcheck }:

mkPackage {
  pname = "libparse";
  version = "0.9.2";
  deps = [ libcore ];
  exports = [ "parse_grammar" "parse_tokens" ];
  uses.libcore = [ "core_alloc" ];
  tests.suite = {
    deps = [ libcheck ];
    script = ''
      "${libcheck}/bin/check-run" "$package"
    '';
  };
  meta.maintainers = [ "carol" ];
}

# The Crest demo collection: a package collection in the shape of Nixpkgs, small enough for
# Nix to build offline in seconds. See README.md.
#
#   nix-build default.nix -A hello --option substituters ''
#
# A security tag (wave-N-M-security-K, made by a replace-dependency patch) carries
# grafts/: grafts.nix and the list grafts.json. Each grafted package is then its graft, the
# output it had in the tag with references to the vulnerable paths rewritten to the
# patched ones, keeping its attributes (pname, version, meta); its tests run against the
# graft (so default-system.boot boots the grafted system), and `ungrafted` is the package
# as the expressions define it.
{ system ? builtins.currentSystem
, hostPath ? "/usr/bin:/bin" # PATH of host tools for builders (the demo has no bootstrap binaries)
}:

let
  pkgs = import ./pkgs/top-level/all-packages.nix { inherit system hostPath; };
  grafts =
    if builtins.pathExists ./grafts/grafts.json
    then import ./grafts/grafts.nix { inherit system hostPath; }
    else { };
  graft = k: g:
    let
      p = pkgs.${k};
      grafted = p // g // {
        ungrafted = p;
        tests = p.testsFor grafted;
        passthru = p.passthru // { tests = grafted.tests; };
      };
    in
    grafted;
in
pkgs // builtins.mapAttrs graft grafts

# Grafts: outputs of built packages with references to old store paths rewritten to new
# ones, as Nixpkgs' replaceDependency does, so that a security fix reaches dependents
# without rebuilding them. The index and the package set import this file; nix-build or
# nix-store --realise of an attribute reproduces the grafted output.
#
#   import ./grafts.nix { system = "x86_64-linux"; hostPath = "/usr/bin:/bin"; grafts = [
#     { package = "backup"; path = "/nix/store/…-backup-1.2.0";
#       replacements = [ { old = "/nix/store/…-libcrypto-2.5.0"; new = "/nix/store/…-libcrypto-2.5.1"; }
#                        { old = "/nix/store/…-libtls-1.8.0"; graft = "libtls"; } ]; }
#   ]; }
#
# gives one derivation per package, named as the original output (so the grafted path has
# the same length). A replacement's `new` is a built store path, or `graft` names another
# graft of the same list (a dependent of a dependent). Every old and new path must have a
# basename of the same length; activities/graft checks that before writing the list. A
# list of several systems' grafts marks each with its `system`: only those of the system
# evaluated for are taken (and those without one).
{ system ? builtins.currentSystem
, hostPath ? "/usr/bin:/bin"
, grafts ? builtins.fromJSON (builtins.readFile ./grafts.json)
}:

let
  inherit (builtins) baseNameOf concatStringsSep filter listToAttrs map storePath stringLength substring throw unsafeDiscardStringContext;

  forSystem = filter (g: (g.system or system) == system) grafts;

  nameOf = p: let b = baseNameOf p; in substring 33 (stringLength b) b;

  newOf = r:
    if r ? graft then self.${r.graft} or (throw "grafts: ${r.graft} is not a graft of this list")
    else storePath r.new;

  check = old: new:
    let o = baseNameOf old; n = baseNameOf (unsafeDiscardStringContext new); in
    if stringLength o == stringLength n then "${o}=${n}"
    else throw "grafts: ${o} and ${n} differ in length; a graft cannot rewrite one into the other";

  graft = { package, path, replacements, ... }: derivation {
    name = nameOf path;
    inherit system;
    builder = "/bin/sh";
    args = [ "-e" ./graft.sh ];
    PATH = hostPath;
    original = storePath path;
    # The new paths are inputs, so that Nix finds them as references of the output.
    replacementPaths = map newOf replacements;
    rewrites = concatStringsSep " " (map (r: check r.old (newOf r)) replacements);
    crestGraftOf = package;
  };

  self = listToAttrs (map (g: { name = g.package; value = graft g; }) forSystem);
in
self

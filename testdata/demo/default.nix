# The Crest demo collection: a package collection in the shape of Nixpkgs, small enough for
# Nix to build offline in seconds. See README.md.
#
#   nix-build default.nix -A hello --option substituters ''
{ system ? builtins.currentSystem
, hostPath ? "/usr/bin:/bin" # PATH of host tools for builders (the demo has no bootstrap binaries)
}:

import ./pkgs/top-level/all-packages.nix { inherit system hostPath; }

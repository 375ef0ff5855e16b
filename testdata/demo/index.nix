# Crest's index of the demo collection: one record per package, in the order of attribute
# names, for
#
#   nix-instantiate --eval --json --strict --read-write-mode index.nix --argstr system x86_64-linux
#
# (--read-write-mode makes Nix write the .drv files to the store, so that every "drv" and
# test "drv" can be realised afterwards; plain --eval only computes their paths.)
#
# "deps" lists the attributes of a package's build dependencies *and* of the dependencies of
# its passthru.tests, because a package is green only when its tests pass: libparse's test
# suite runs with libcheck and libcheck is built with libparse, which makes the two a strongly
# connected pair in the index although their derivations are not cyclic.
{ system ? builtins.currentSystem
, hostPath ? "/usr/bin:/bin"
}:

let
  inherit (builtins) attrNames attrValues concatMap filter listToAttrs sort unsafeDiscardStringContext;

  pkgs = import ./default.nix { inherit system hostPath; };

  isDerivation = v: builtins.isAttrs v && (v.type or null) == "derivation";
  keys = filter (k: isDerivation pkgs.${k}) (attrNames pkgs);

  # Dependencies are derivations; the index names them by their top-level attribute (a
  # grafted package by its graft and by the package it grafts: see default.nix).
  keyByDrv = listToAttrs (concatMap (k: map (d: { name = unsafeDiscardStringContext d.drvPath; value = k; })
    ([ pkgs.${k} ] ++ (if pkgs.${k} ? ungrafted then [ pkgs.${k}.ungrafted ] else [ ]))) keys);
  keyOf = d: keyByDrv.${unsafeDiscardStringContext d.drvPath}
    or (throw "index: ${d.name} is a dependency but not a top-level package");

  uniq = xs: builtins.foldl' (acc: x: if acc != [ ] && builtins.elem x acc then acc else acc ++ [ x ]) [ ] (sort (a: b: a < b) xs);

  record = k:
    let
      p = pkgs.${k};
      tests = p.passthru.tests or { };
    in {
      attr = k;
      name = p.pname;
      inherit (p) version system;
      drv = p.drvPath;
      deps = uniq (filter (d: d != k) (map keyOf (p.buildDeps ++ concatMap (t: t.buildDeps) (attrValues tests))));
      tests = map (n: { name = n; drv = tests.${n}.drvPath; }) (attrNames tests);
      maintainers = p.meta.maintainers or [ ];
      broken = p.meta.broken or false;
    };
in
map record keys

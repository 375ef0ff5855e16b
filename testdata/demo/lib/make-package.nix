# The demo collection's package builders, the counterpart of Nixpkgs' stdenv.mkDerivation.
#
# A package is a plain `derivation` whose builder is /bin/sh sourcing the stdenv's setup
# script; the result carries, like Nixpkgs packages do, `pname`, `version`, `meta`
# (maintainers, broken) and `passthru.tests` (one derivation per test). `buildDeps` lists the
# derivations the package is built with, so that index.nix can name its dependencies.
{ system, hostPath, stdenv }:

let
  inherit (builtins) attrNames concatMap listToAttrs mapAttrs replaceStrings;

  envName = n: replaceStrings [ "-" "." ] [ "_" "_" ] n;

  # mkDrv is the one place that calls `derivation`: meta and passthru stay out of the
  # builder's environment, so that changing them (e.g. marking a package broken) does not
  # change the derivation, exactly as in Nixpkgs.
  mkDrv = { pname, version, buildDeps, env, meta ? { }, tests ? (_: { }) }:
    let
      drv = derivation ({
        name = "${pname}-${version}";
        inherit system pname version;
        builder = "/bin/sh";
        PATH = hostPath;
      } // env);
      self = drv // {
        inherit buildDeps meta;
        passthru = { tests = self.tests; };
        tests = tests self;
        # testsFor makes the package's tests of another output of it: default.nix runs a
        # grafted package's tests against its graft, not the output the graft replaces.
        testsFor = tests;
      };
    in
    self;

  # mkTest turns a test spec { script, deps ? [ ] } of package `pkg` into a derivation that
  # runs the script with $package set to the package's output; it fails the test by exiting
  # non-zero (the setup script's `fail` says why).
  mkTest = pkg: name: { script, deps ? [ ] }: mkDrv {
    pname = "${pkg.pname}-test-${name}";
    inherit (pkg) version;
    buildDeps = [ stdenv pkg ] ++ deps;
    env = {
      args = [ "-e" "-c" ". \"$stdenv/setup\"; runTest" ];
      inherit stdenv deps;
      package = pkg;
      testName = name;
      testScript = script;
    };
  };

  # Tests every package gets: a library's shared object must export what it declares, a
  # program must report its version.
  autoTests = { exports, programs }:
    (if exports != [ ] then {
      abi.script = ''
        checkExports "$package"
      '';
    } else { })
    // (if programs != { } then {
      version.script = ''
        for prog in ${toString (attrNames programs)}; do
          got=$("$package/bin/$prog" --version)
          [ "$got" = "$prog $version" ] || fail "$prog --version: expected '$prog $version', got '$got'"
        done
      '';
    } else { });
in
{
  inherit mkDrv;

  # mkBootstrap builds a stage of the bootstrap (no stdenv yet): `builder` is a shell script
  # run by the host's /bin/sh with `env` in its environment.
  mkBootstrap = { pname, version, builder, buildDeps ? [ ], env ? { }, tests ? { }, meta ? { } }:
    mkDrv {
      inherit pname version buildDeps meta;
      env = { args = [ "-e" builder ]; } // env;
      tests = self: mapAttrs (mkTest self) tests;
    };

  # mkPackage builds a library and/or programs with the stdenv's generic builder:
  #   deps      packages it is built with (their info, symbols and defines are visible)
  #   exports   symbols its library provides (lib/<pname>.so)
  #   defines   build-time constants it provides to dependents (name = value, no spaces)
  #   uses      symbols it links against, per dependency: { libfoo = [ "foo_open" ]; }
  #   programs  executable scripts: { name = "shell body"; }; the body runs with the
  #             defines of its dependencies in the environment (libfoo_name=value)
  #   postInstall  shell run after the install phase
  #   tests     passthru.tests specs: { name = { script; deps ? [ ]; }; }
  mkPackage =
    { pname, version, deps ? [ ], exports ? [ ], defines ? { }, uses ? { }, programs ? { }
    , postInstall ? "", tests ? { }, meta ? { } }:
    mkDrv {
      inherit pname version meta;
      buildDeps = [ stdenv ] ++ deps;
      env = {
        args = [ "-e" "-c" ". \"$stdenv/setup\"; genericBuild" ];
        inherit stdenv deps exports postInstall;
        defines = map (n: "${n}=${toString defines.${n}}") (attrNames defines);
        uses = concatMap (lib: map (sym: "${lib}:${sym}") uses.${lib}) (attrNames uses);
        programs = attrNames programs;
      } // listToAttrs (map (p: { name = "program_${envName p}"; value = programs.${p}; }) (attrNames programs));
      tests = self: mapAttrs (mkTest self) (autoTests { inherit exports programs; } // tests);
    };
}

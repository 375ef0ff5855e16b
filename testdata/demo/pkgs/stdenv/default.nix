# The bootstrap: stdenv-stage0 (bootstrap tools) -> stdenv-stage1 (wrapped tools) -> stdenv
# (the setup script every package builder sources). Every package depends on stdenv, so a
# change here rebuilds the whole collection; stdenv is a protected root.
{ mkBootstrap }:

rec {
  stdenv-stage0 = mkBootstrap {
    pname = "stdenv-stage0";
    version = "2024.11";
    builder = ./bootstrap-tools.sh;
    env.ld = ./ld.sh;
    meta.maintainers = [ "alice" ];
  };

  stdenv-stage1 = mkBootstrap {
    pname = "stdenv-stage1";
    version = "2024.11";
    builder = ./stage1.sh;
    buildDeps = [ stdenv-stage0 ];
    env.stage0 = stdenv-stage0;
    meta.maintainers = [ "alice" ];
  };

  stdenv = mkBootstrap {
    pname = "stdenv";
    version = "2024.11";
    builder = ./stdenv.sh;
    buildDeps = [ stdenv-stage1 ];
    env = {
      stage1 = stdenv-stage1;
      setup = ./setup.sh;
    };
    tests.setup.script = ''
      [ "$(ld --version)" = "ld (Crest demo binutils) 2.41" ] || fail "unexpected linker: $(ld --version)"
      grep -q "^version=$version$" "$package/nix-support/info" || fail "stdenv info lacks its version"
    '';
    meta.maintainers = [ "alice" "frank" ];
  };
}

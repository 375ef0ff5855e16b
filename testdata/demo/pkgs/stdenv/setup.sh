# The demo stdenv's setup script, sourced by the builder of every package and test:
#   . "$stdenv/setup"; genericBuild     (packages, see lib/make-package.nix)
#   . "$stdenv/setup"; runTest          (passthru.tests)
# It plays the part of Nixpkgs' pkgs/stdenv/generic/setup.sh: phases, the bootstrap linker on
# PATH, and helpers. Every package writes nix-support/info (name, version, exported symbols,
# defines, dependencies), which is what its dependents link and read against.
set -eu
export PATH="@stage1@/bin:$PATH"
stdenv_version=@version@

log() { echo "$pname-$version: $*"; }
die() {
  echo "error: $pname-$version: $*" >&2
  exit 1
}
fail() {
  echo "FAIL: $pname-$version: $*" >&2
  exit 1
}

# infoField DIR KEY prints KEY from the package info of the store path DIR.
infoField() { sed -n "s/^$2=//p" "$1/nix-support/info"; }

configurePhase() {
  log "configuring for $system with stdenv $stdenv_version"
  for d in $deps; do
    [ -f "$d/nix-support/info" ] || die "dependency $d has no nix-support/info"
    log "found $(infoField "$d" name)-$(infoField "$d" version)"
  done
}

buildPhase() {
  : >"$NIX_BUILD_TOP/link.map"
  if [ -n "$uses" ]; then
    log "linking $(echo $uses | wc -w) symbols"
    ld "$NIX_BUILD_TOP/link.map" "$uses" $deps || die "linking failed (see the undefined references above)"
  fi
}

installPhase() {
  mkdir -p "$out/nix-support"
  {
    echo "name=$pname"
    echo "version=$version"
    echo "system=$system"
    for e in $exports; do echo "export $e"; done
    for d in $defines; do echo "define $d"; done
    for d in $deps; do echo "dep $(infoField "$d" name)-$(infoField "$d" version)"; done
  } >"$out/nix-support/info"
  # The run-time dependencies, "name storepath" per line: what a real package's RPATH or
  # wrapper holds. The output refers to its dependencies' store paths through this file, so
  # a security fix to a library reaches it by a graft (Crest's replace-dependency).
  # The first line names the package, so that no two packages have the same file (a graft
  # refuses a dependent holding a copy of a file of the dependency).
  {
    echo "# run-time dependencies of $pname-$version"
    for d in $deps; do echo "$(infoField "$d" name) $d"; done
  } >"$out/nix-support/runtime"
  if [ -n "$exports" ]; then
    mkdir -p "$out/lib"
    {
      echo "# $pname $version: a shared object of the Crest demo collection"
      sed 's/^/needed /' "$NIX_BUILD_TOP/link.map"
      for e in $exports; do echo "$e"; done
    } >"$out/lib/$pname.so"
    log "installed lib/$pname.so"
  fi
  if [ -n "$programs" ]; then installPrograms; fi
  if [ -n "$postInstall" ]; then eval "$postInstall"; fi
}

# installPrograms writes bin/<name> for every program: a script that loads the defines of the
# package's dependencies (share/<pname>/env, e.g. libcore_default_precision=3), answers
# --version and --libs, and runs the program's body, which may find a library's files at
# run time with `lib_path NAME`.
installPrograms() {
  mkdir -p "$out/bin" "$out/share/$pname"
  env=$out/share/$pname/env
  : >"$env"
  for d in $deps; do
    n=$(infoField "$d" name | tr '.-' '__')
    echo "${n}_version=$(infoField "$d" version)" >>"$env"
    sed -n "s/^define /${n}_/p" "$d/nix-support/info" >>"$env"
  done
  for p in $programs; do
    body=$(printenv "program_$(echo "$p" | tr '.-' '__')")
    {
      echo '#!/bin/sh'
      echo "# $p from $pname $version, built by the Crest demo stdenv"
      echo 'set -e'
      echo ". $env"
      # lib_path NAME: the store path of library NAME among the program's run-time
      # dependencies, depth first (a subshell function: its variables stay its own).
      echo 'lib_path() ('
      echo "  dir=\${2:-$out}"
      echo '  while read -r n p; do [ "$n" = "$1" ] && { echo "$p"; exit 0; }; done <"$dir/nix-support/runtime"'
      echo '  while read -r n p; do lib_path "$1" "$p" && exit 0; done <"$dir/nix-support/runtime"'
      echo '  exit 1'
      echo ')'
      echo 'case "${1:-}" in'
      echo "  --version) echo '$p $version'; exit 0 ;;"
      echo "  --libs) sed -n 's/^dep //p' $out/nix-support/info; exit 0 ;;"
      echo 'esac'
      printf '%s\n' "$body"
    } >"$out/bin/$p"
    chmod +x "$out/bin/$p"
    log "installed bin/$p"
  done
}

genericBuild() {
  configurePhase
  buildPhase
  installPhase
  log "done"
}

# checkExports DIR fails the running test unless the package at DIR has the version under
# test and its shared object provides every symbol it declares.
checkExports() {
  n=$(infoField "$1" name)
  v=$(infoField "$1" version)
  [ "$v" = "$version" ] || fail "$n reports version $v, expected $version"
  for s in $(sed -n 's/^export //p' "$1/nix-support/info"); do
    grep -qx "$s" "$1/lib/$n.so" || fail "lib/$n.so does not provide $s"
  done
  log "lib/$n.so provides $(sed -n 's/^export //p' "$1/nix-support/info" | wc -l) symbols"
}

runTest() {
  log "running test $testName of $package"
  eval "$testScript"
  echo "PASS $testName" >"$out"
  log "passed"
}

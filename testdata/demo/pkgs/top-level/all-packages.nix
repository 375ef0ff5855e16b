# The package set, as in Nixpkgs: a fixed point of attributes where callPackage fills a
# package function's arguments from the set itself. Every attribute whose value is a
# derivation is a package (index.nix lists them); the rest are helpers.
{ system, hostPath }:

let
  self = {
    inherit system hostPath;

    callPackage = fn: args:
      let f = import fn;
      in f (builtins.intersectAttrs (builtins.functionArgs f) self // args);

    inherit (import ../../lib/make-package.nix {
      inherit system hostPath;
      inherit (self) stdenv;
    }) mkBootstrap mkPackage;

    # Bootstrap
    inherit (self.callPackage ../stdenv { }) stdenv-stage0 stdenv-stage1 stdenv;

    # Libraries
    zlib = self.callPackage ../libraries/zlib { };
    libffi = self.callPackage ../libraries/libffi { };
    libyaml = self.callPackage ../libraries/libyaml { };
    libcore = self.callPackage ../libraries/libcore { };
    libnet = self.callPackage ../libraries/libnet { };
    libjson = self.callPackage ../libraries/libjson { };
    libxml = self.callPackage ../libraries/libxml { };
    libcrypto = self.callPackage ../libraries/libcrypto { };
    libterm = self.callPackage ../libraries/libterm { };
    libparse = self.callPackage ../libraries/libparse { };
    libarchive = self.callPackage ../libraries/libarchive { };
    libimage = self.callPackage ../libraries/libimage { };
    libcheck = self.callPackage ../libraries/libcheck { };
    libtls = self.callPackage ../libraries/libtls { };
    libreadline = self.callPackage ../libraries/libreadline { };
    libdb = self.callPackage ../libraries/libdb { };
    libconfig = self.callPackage ../libraries/libconfig { };
    libhttp = self.callPackage ../libraries/libhttp { };
    libscript = self.callPackage ../libraries/libscript { };
    libui = self.callPackage ../libraries/libui { };
    libsync = self.callPackage ../libraries/libsync { };
    libplugin = self.callPackage ../libraries/libplugin { };

    # The default system (protected)
    coreutils = self.callPackage ../os/coreutils { };
    shell = self.callPackage ../os/shell { };
    pkgtool = self.callPackage ../os/pkgtool { };
    initd = self.callPackage ../os/initd { };
    netd = self.callPackage ../os/netd { };
    default-system = self.callPackage ../os/default-system { };

    # Applications
    hello = self.callPackage ../applications/hello { };
    calc = self.callPackage ../applications/calc { };
    fetch = self.callPackage ../applications/fetch { };
    webd = self.callPackage ../applications/webd { };
    feedreader = self.callPackage ../applications/feedreader { };
    editor = self.callPackage ../applications/editor { };
    imgview = self.callPackage ../applications/imgview { };
    dbshell = self.callPackage ../applications/dbshell { };
    backup = self.callPackage ../applications/backup { };
    chat = self.callPackage ../applications/chat { };
    docgen = self.callPackage ../applications/docgen { };
    tetrix = self.callPackage ../applications/tetrix { };
    oldtool = self.callPackage ../applications/oldtool { };
    jsonfmt = self.callPackage ../applications/jsonfmt { };
    yamlcheck = self.callPackage ../applications/yamlcheck { };
    zpipe = self.callPackage ../applications/zpipe { };
  };
in
self

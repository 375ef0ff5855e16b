package crest

import "embed"

// DemoCollection holds the demo package collection (testdata/demo): Nix expressions in the
// shape of Nixpkgs, its index expression and the files of its scenario branches. It lives
// in the root package because embed cannot reach parent directories; deploy/demo turns it
// into a git repository.
//
//go:embed testdata/demo
var DemoCollection embed.FS

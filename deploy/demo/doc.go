// Package demo makes the demo collection's git repository: a bare "remote" holding main and
// the scenario branches (root updates and fix commits) that the demo, the tests and `crest
// dev` run waves over.
//
// The collection itself, Nix expressions in the shape of Nixpkgs that Nix builds offline in
// seconds, lives in testdata/demo and reaches this package embedded as crest.DemoCollection;
// testdata/demo/README.md describes its packages and, branch by branch, what changes and what
// fails. Scenarios and Merges carry the same expectations as data, so that tests can assert
// them. Create writes every commit with a fixed identity and date: the same hashes on every
// machine and every run.
package demo

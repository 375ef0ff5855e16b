// Package shareddata finds the recorded package graphs of ../shared/data (Debian bookworm,
// Nixpkgs subsets) that tests, benchmarks and `crest bench` use: $CREST_DATA when set,
// else shared/data in the working directory or any directory above it — the checkout has
// shared/ beside it.
package shareddata

package graph

// Package is one node of a collection's build graph, as an evaluation sees it.
//
// Key is the stable identity of the package within its collection: the attribute path for
// Nix collections evaluated by Crest ("libfoo", "python3Packages.jedi"), the derivation id
// ("<hash>-<name>") or source name for the recorded graphs in ../shared/data.
type Package struct {
	Key         string    `json:"key"`
	Name        string    `json:"name"`
	Attr        string    `json:"attr,omitempty"` // attribute path when Key is not one (recorded Nix graphs key by derivation id); lets people name packages as they know them
	Version     string    `json:"version,omitempty"`
	System      string    `json:"system,omitempty"`
	Drv         string    `json:"drv,omitempty"`  // derivation identity: differs between evaluations exactly when Nix rebuilds
	Deps        []string  `json:"deps,omitempty"` // keys of build dependencies: a change to a dependency rebuilds this package
	Tests       []Test    `json:"tests,omitempty"`
	Maintainers []string  `json:"maintainers,omitempty"`
	Broken      bool      `json:"broken,omitempty"` // meta.broken at evaluation time
	Cost        CostHints `json:"cost,omitzero"`
}

// Test is one entry of a package's passthru.tests: a derivation that must build for the
// package to count as green.
type Test struct {
	Name string `json:"name"`
	Drv  string `json:"drv,omitempty"`
}

// CostHints carries what the source of a graph knows about the price of building a package;
// a CostModel turns it into seconds.
type CostHints struct {
	BuildSeconds float64 `json:"build_seconds,omitempty"` // measured, when known
	SourceBytes  int64   `json:"source_bytes,omitempty"`  // Debian
	InstalledKB  int64   `json:"installed_kb,omitempty"`  // Debian
	BigParallel  bool    `json:"big_parallel,omitempty"`  // Nix: Hydra's heavy-build flag
}

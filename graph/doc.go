// Package graph is the pure model of a package collection: packages, their build graph
// (gonum behind domain types), closures, strongly connected components, stable layering,
// the rebuild set between two evaluations, and wave plans.
//
// It does no I/O beyond readers and writers over io streams, reads no clock and knows
// nothing of Temporal, so that the same input always yields the same plan.
//
// # Graphs
//
// New builds an immutable Graph from packages (ReadPackages and Load read them from JSON
// Lines: Crest's own records or the recorded Nixpkgs and Debian graphs). Packages are
// numbered in key order, so the input order never shows in any result. A dependency edge
// "A depends on B" is held in both directions; Directed shows the graph to gonum with edges
// from B to A, the way a change travels.
//
// Closures (ReverseClosure: what rebuilds when P changes; BuildClosure: what P needs),
// strongly connected components (SCCs, Cycle, Condensation), TopoOrder and Layers all come
// in key order within each step, and CriticalPath weighs the longest dependency chain.
// RebuildSet compares two evaluations by derivation identity.
//
// # Plans
//
// Graph.Plan turns root updates into a major wave of minor waves: grouped (cycles and
// hand-made groups travel together), ordered from providers to consumers with the heaviest
// first among independent groups, every affected package rebuilt exactly once, in the wave
// of the last update upstream of it. Plan documents the rules, Plan (the type) the time
// estimates, DefaultCost the structural cost model, and Measured the one Crest's waves use:
// measured durations where packages were built before, DefaultCost for the rest.
package graph

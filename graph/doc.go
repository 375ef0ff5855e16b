// Package graph is the pure model of a package collection: packages, their build graph
// (gonum behind domain types), closures, strongly connected components, stable layering,
// the rebuild set between two evaluations, and wave plans.
//
// It does no I/O beyond readers and writers over io streams, reads no clock and knows
// nothing of Temporal, so that the same input always yields the same plan.
package graph

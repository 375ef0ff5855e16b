// Package queuesim simulates a year of merge-queue traffic on a recorded package graph, to
// measure the merge queue's latency and build cost before anything runs: `crest bench
// queue`. It is pure Go and discrete-event (no Temporal, no Postgres, no clock): the same
// graph, options and seed always give the same result.
//
// # Traffic
//
// Changes arrive as a Poisson process of ChangesPerDay, from a seeded random source. Each
// touches one package and rebuilds its reverse closure in the graph. Most changes touch
// leaves, as in Nixpkgs: with probability LeafShare the package is drawn uniformly among
// the near-leaves (packages whose reverse closure holds at most LeafSize packages; a
// recorded subset such as nixpkgs-apps, the closure of 25 applications, has only 14 true
// leaves), otherwise uniformly among all packages, which is where mass rebuilds come from.
// A FailureRate share of changes break one package of their rebuild set, drawn uniformly;
// a SecurityRate share carry the security label. Build durations are graph.DefaultCost.
//
// # Builds and the cache
//
// Derivations are modelled as Nix has them: the derivation of package p at a commit is
// (p, the set of changes on that commit that touch p's build closure), so a change
// rebuilds exactly its reverse closure, and a derivation built once (by any strategy step:
// a candidate, a probe, a re-check) is a cache hit afterwards. A derivation fails when a
// breaking change in its set breaks that very package; its dependents are
// dependency-failed and not built. Builds run on Builders shared slots, ready builds by
// priority (priority lane, then the fast lane and probes, then the wave lane) and then in
// order of request, each taking its cost in seconds; dependencies build first.
//
// # Strategies, on the same traffic
//
//   - crest: policy.ChooseLane puts each change in the fast, wave or priority lane;
//     policy.CutBatch cuts fast-lane batches with the AIMD window (policy.Window). Up to
//     MaxBatches batches form a dependent pipeline (as Zuul's): each builds the union of
//     its rebuild sets on the head plus the batches ahead of it, and merges when it and
//     every batch ahead are green, so the branch moves only to commits that were built. A
//     red batch is acted on at the front of the pipeline: policy.Bisection bisects it
//     aside, probes building only the failed packages and what they need that is not
//     built; the culprit is ejected and the other changes go back to the front of their
//     queue; the batches behind are rebuilt without it (mostly cache hits). Wave-lane
//     changes (policy.CutWave) are built aside at the lowest priority, then join the
//     pipeline as one unit that rebuilds only what the head changed since, so they never
//     hold up the fast lane for long.
//   - one-at-a-time: every change, in arrival order, is built alone on the head and
//     merged when green, ejected when red.
//   - bors: everything waiting is one batch; a red batch is split in halves that are built
//     again in full, one after the other, down to single changes that are ejected.
//
// # Measures
//
// Latency runs from submission (approval) to merge. Per strategy and lane: p50, p95 and
// p99 latency of merged changes, merged, ejected and still queued counts, builds per
// merged change (package builds performed — candidates, probes, rebuilds and re-checks —
// divided by the sizes of the merged changes' own rebuild sets; a build is charged to the
// lane of the first change of its request that touches the package) and builder
// utilization up to the end of the horizon. Changes not merged or ejected by the end of
// the horizon are counted as queued and are not in the percentiles.
package queuesim

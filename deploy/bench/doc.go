// Package bench measures Crest's own overhead and robustness: `crest bench waves`,
// BenchmarkMinorWave, `crest bench chaos` and `crest bench cluster`.
//
// Run starts, in this process, the stack Crest runs on (a throwaway PostgreSQL cluster from
// the system's binaries with fsync off, the embedded Temporal server in memory, and workers)
// and a tiny git collection whose only difference between its base and its update branch is
// a VERSION file. A synthetic Evaluator answers with a package graph derived from the real
// Debian bookworm graph (replicated to the requested size) whose every derivation depends on
// that file, so a major wave with one update rebuilds all of it in one minor wave: the real
// workflows (MajorWave, MinorWave, BuildShard) and the real activities (git merge and tag,
// evaluations stored with COPY, PrepareRound, TakeShard, BuildPackage with its Postgres
// bookkeeping, Summarize, TagMinorWave) with activities.NoopBuilder as the builder.
//
// In the same run, on the same server, workers and task queues, a minimal workflow executes
// as many no-op activities with the same concurrency (the raw rate). Crest's rate is
// compared with it, and every workflow's history length and largest event are read back
// from the server. With FailShare the no-op builder fails a share of packages chosen by a
// hash of their key; the wave's policy (FailPolicy) marks them broken after a one-second
// grace period, so the same run measures histories and payloads of a wave with failures.
//
// With Builder "model" each build sleeps its package's modelled duration (graph.DefaultCost,
// the estimate the engine's priorities come from) × TimeScale on Slots build slots (the
// BuildSet window and the build worker's concurrency both), and the result (Model) compares
// the build round's makespan, on the builder's own clock, with its lower bound
// max(critical path, work / slots) and with graph.Simulate's makespan, all computed by the
// graph package from the same durations. It also says where the difference went (Losses:
// slot time left idle while a package was ready, in and out of the dispatcher's
// continue-as-new drains; Latency: each step of the dispatch loop, from the dispatcher's
// histories) and what the machine's load was.
//
// RunChaos (`crest bench chaos`) runs the demo major wave against a worker in a separate
// process that it kills with SIGKILL at seeded random points, and restarts the embedded
// Temporal server on its SQLite file, then counts duplicate builds and lost results.
//
// RunCluster (`crest bench cluster`, make cluster-demo) runs the demo major wave on a
// cluster of processes on this machine: PostgreSQL, the Temporal server (RunTemporalServer),
// an orchestrator and two builders (`crest worker`), each worker with a Nix store of its own,
// sharing only a signed binary cache; it kills one builder mid-wave and checks that the
// tags are made, that no builder's Nix built a derivation whose output was in the cache
// before the package build needing it began (the builders' build logs against the cache's
// narinfos and the builds recorded in Postgres), and that every tagged output is rooted on
// the tag host and in the cache. The processes come from a ClusterTopology: the built-in
// one, or ComposeTopology, which runs the crest services of deploy/compose/compose.yaml
// without Docker (their commands, environment, secrets and crest.yaml; volumes as
// directories), so that the compose file cannot drift from the code.
package bench

// Package trackertest holds what tests of trackers and of their users need: Run, the
// conformance suite every tracker.Tracker implementation must pass (GitHub, the
// Postgres-backed local tracker), and Memory, an in-memory Tracker with fault injection
// for tests of the activities that file issues.
package trackertest

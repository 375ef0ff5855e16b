// Package workflows is Crest's determinism boundary: the Temporal workflows that hold the
// decisions of major and minor waves, security patches (SecurityPatch) and merge queues
// (MergeQueue, and QueueIntake, which feeds it pull requests and reports results), their
// state, and the messages (signals, updates, queries) people use to steer them; and
// QueueClient, which sends a queue its updates from outside a workflow.
//
// Code here never does I/O, reads the clock, draws random numbers, starts goroutines or
// ranges over maps: it calls activities for every side effect and carries IDs and small
// summaries, never whole graphs. It knows activities only by their names and payload types
// in activities/wire, so it never links the activities' adapters or their database.
package workflows

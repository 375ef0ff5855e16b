// Package tracker is how Crest talks to maintainers: one issue per root cause, filed in
// the collection's issue tracker, commented on when the failure recurs in a later wave,
// and closed (or annotated) when the failure is resolved; and to contributors: the merge
// queue's results on their pull requests (Pulls, QueueResult and its renderers).
//
// The package holds the Tracker interface the activities use, its value types, typed
// errors that tell "retry later" from "give up", and the pure parts every implementation
// shares: Fingerprint (the dedupe key of a failure) and the renderers of issue titles,
// bodies and event comments. Adapters live in subpackages (github) or elsewhere (the
// Postgres-backed local tracker); trackertest holds the conformance suite they must pass
// and an in-memory Tracker for tests of the layers above.
//
// Exactly-once filing despite activity retries is shared work: the store's outbox records
// which issue and comment belong to which fingerprint and wave, and every Tracker method
// is idempotent on its own, so a retry after a crash between the tracker call and the
// outbox write finds the issue or comment instead of creating a second one.
package tracker

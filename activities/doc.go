// Package activities holds every side effect a Crest workflow can cause, as methods on one
// Activities struct: evaluating a collection with Nix, building and testing derivations,
// git branches and tags, grafts of security patches (activities/graft), writes to the
// Postgres store, issue trackers, and the merge queue's pull requests and results.
//
// Activities are idempotent by construction: keys come from the workflow, writes are
// upserts, and "already done" is success. Real build failures are non-retryable
// application errors with stable types; infrastructure failures retry.
package activities

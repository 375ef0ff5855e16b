// Package activities holds every side effect a Crest workflow can cause, as methods on one
// Activities struct: evaluating a collection with Nix, building and testing derivations,
// git branches and tags, grafts of security patches (activities/graft), writes to the
// Postgres store, issue trackers, and the merge queue's pull requests and results. Builds
// go through NixBuilder, which substitutes from the collection's binary cache and pushes
// what it built; tags root their outputs in the tag host's Nix store (TagRoots) until
// ReleaseRoots (crest gc) lets them go. Builders run build slots (BuildSlot): long-lived
// activities that take ready packages from a round's frontier, build and record them one
// after another.
//
// Activities are idempotent by construction: keys come from the workflow, writes are
// upserts, and "already done" is success. Real build failures are non-retryable
// application errors with stable types; infrastructure failures retry.
package activities

// Package filer files one issue per root cause, exactly once, and keeps it up to date: it
// is the service the activities call when a minor wave has failures, and what the CLI
// reads issues through.
//
// A root cause (a failed package whose dependencies all built) gets an issue in the
// collection's tracker, addressed to the package's maintainers, with the log tail, the
// wave, and the dependents it blocks; the dependents get none. Failures are told apart by
// tracker.Fingerprint (package and normalized log): the same failure in a later minor or
// major wave, or in another attempt, comments on the open issue; a fix comments and closes
// it as completed; wont-fix and cant-fix are written and close it as not planned;
// marked-broken is written and leaves it open. A closed issue is never reopened: the same
// failure seen again later files a new issue, because trackers' Open ignores closed issues
// (the conformance suite requires it) and a fresh issue carries the current wave's log and
// dependents instead of a stale discussion.
//
// # Exactly once
//
// Every write to an issue is an event in the store's outbox (issue_events), keyed by
// <collection>/<fingerprint>/wave-N-M/<event>[/<attempt>]:
//
//  1. In one transaction the filer records the event: for a root cause, the issue row
//     (found open by fingerprint, or created) and its open or comment event; for a
//     resolution, the event on the open issue. A key recorded already is found instead,
//     and if it is done its recorded result is returned without calling the tracker.
//  2. It calls the tracker, which is idempotent on its own: Open finds the open issue of
//     the fingerprint (by marker or column), Comment and Close skip a comment whose key
//     (wave-N-M/<event>[/<attempt>]) is there.
//  3. In one transaction it records the result (where the issue was filed, or that it is
//     closed) and marks the event done.
//
// A crash or a failed call anywhere leaves the event pending; calling again with the same
// report repeats steps 2 and 3, which find what the first call did. Callers serialize
// calls per fingerprint (the workflow does): two concurrent first reports of one failure
// may both reach the tracker, and a tracker without a unique index (GitHub) could then
// file two issues.
//
// # Errors
//
// Errors wrap what failed with %w: tracker errors keep their classification, invalid
// reports and unknown collections match tracker.ErrInvalid, so tracker.IsPermanent tells
// the activity layer which to make non-retryable; store errors are retryable. Nothing the
// filer returns or logs carries a token or a DSN.
package filer

// Package github is the GitHub Issues adapter of tracker.Tracker, over go-github, and
// the merge queue's adapter of tracker.Pulls: the pull requests ready for the queue
// (Approval), keyed comments on them and commit statuses set once.
//
// Finding an issue again: Open lists the repository's open issues that carry the Crest
// label (newest first, 100 a page, following Link pagination) and matches the hidden
// fingerprint marker in their bodies; Comment lists the comments and matches the
// comment marker. The search API would be one request instead of several, but it is
// eventually consistent (an issue created seconds ago, which is exactly the one a retry
// after a crash must find, may not be indexed yet) and has a separate limit of 30
// requests a minute, so it cannot carry exactly-once.
//
// Writes that may have taken effect before failing (a 5xx or a timeout on a POST) are
// never repeated blindly: Open and Comment look again for the marker before each new
// attempt. Reads and idempotent writes (closing) are retried in place.
//
// Failures: a primary rate limit (403/429 with X-RateLimit-Remaining: 0) waits until
// X-RateLimit-Reset, a secondary one until Retry-After (or a minute), as long as the
// call's total wait stays within Config.MaxWait; past that the call returns a retryable
// tracker.Error carrying RetryAt, and every call of the same Tracker holds back until
// then. 5xx and network errors are retried with exponential backoff and jitter
// (Config.MaxAttempts, BackoffBase, BackoffMax) and then returned as retryable. Other
// 4xx are permanent: 401 ErrUnauthorized, 403 ErrForbidden, 404/410 ErrNotFound, the
// rest ErrInvalid. If GitHub rejects the assignees (422), the issue is filed without
// them and the body mentions them instead.
//
// The token goes only into the Authorization header of requests to the API host. Errors
// are rebuilt from status, headers and GitHub's message, scrubbed of the token; no
// go-github or net/http error (which can carry requests, headers and bodies) is logged,
// wrapped or returned.
package github

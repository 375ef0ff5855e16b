// Package local is a tracker.Tracker that keeps issues in Crest's own Postgres database
// (through the store, which stays the only importer of the driver), for `crest dev` and for
// collections without an issue tracker of their own.
//
// Issues and comments live in the local_issues and local_issue_comments tables. Crest's
// comments carry their key (one comment per key and issue); people's comments, added with
// CommentAs (`crest issues comment N --as alice "…"`), carry none and move
// State.LastExternalComment, which is how a maintainer extends a grace period in
// `crest dev`. At most one issue per fingerprint is open in a repo, enforced by a unique
// index, so even concurrent Opens file one issue.
package local

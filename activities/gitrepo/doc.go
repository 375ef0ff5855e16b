// Package gitrepo is Crest's adapter to a collection's git repository, with the git command
// line (no Go git library): a bare working clone per collection in a cache directory, where
// wave branches are prepared, root updates and fixes are merged, commits are checked out for
// evaluation, and wave tags are written and pushed.
//
// Every operation is idempotent, so that an activity may run it again after a crash or a
// retry and get the same result: PrepareBranch leaves an existing branch alone, Merge of a
// ref already in the branch returns the head, Tag of a tag already at the commit does
// nothing, Push of what the remote has is a no-op. Merges are computed in the object database
// (git merge-tree --write-tree) and the branch moves with a compare-and-swap (update-ref with
// the old value), so a conflict, a typed *ConflictError naming the files, leaves nothing to
// clean up. Worktrees give concurrent evaluations a checkout each.
//
// Commits and tags carry a fixed identity (Crest <crest@localhost> unless configured), and
// user configuration that would change what git writes (signing, hooks) is overridden.
// Operations on one repository are serialized by a lock that holds within the process and,
// through flock, across processes sharing the cache directory. Errors carry the end of git's
// error output (*GitError).
//
// Credentials (Config.Credentials, chosen by the longest URL prefix, or the userinfo of a URL,
// which is taken out of it) reach git only through the environment of the git child that
// talks to that repository: GIT_ASKPASS names a small helper beside the working repository
// that answers git's prompts from that environment, and only for the expected origin, so a
// redirect elsewhere gets nothing. The operator's credential helpers are switched off for
// those commands (they would answer first, or store the token). The token is never on a
// command line, in the remote URL git records, in FETCH_HEAD or a ref name; git's output is
// scrubbed of it before it becomes an error, as a last line of defence.
package gitrepo

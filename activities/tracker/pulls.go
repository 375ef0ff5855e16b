package tracker

import "context"

// Pulls is a forge's pull requests, as a merge queue uses them: where approved changes
// come from, and where their results go back (a comment and a commit status). Like
// Tracker, every method is idempotent and no error or value carries credentials.
type Pulls interface {
	// Repo is the repository the pull requests are in, "owner/name".
	Repo() string

	// Ready lists the open, non-draft pull requests into base that carry label and are
	// approved (see the adapter for what approved means there), by number.
	Ready(ctx context.Context, base, label string) ([]PullRequest, error)

	// CommentPull adds body to the pull request as a comment identified by key; if a
	// comment with that key is there already, it does nothing.
	CommentPull(ctx context.Context, number int64, key, body string) error

	// SetStatus sets a status on commit, unless the newest status of its context says
	// the same already (so a retried report does not stack copies). A description longer
	// than MaxStatusDescription is cut.
	SetStatus(ctx context.Context, commit string, s CommitStatus) error
}

// PullRequest is an open pull request a merge queue may take.
type PullRequest struct {
	Repo    string `json:"repo"`             // "owner/name"
	Number  int64  `json:"number"`           // > 0
	Title   string `json:"title,omitempty"`  // one line
	Author  string `json:"author,omitempty"` // login
	Base    string `json:"base"`             // the branch it wants to go into
	Head    string `json:"head"`             // its head commit: what was approved
	HeadRef string `json:"head_ref"`         // its head branch, for people (may be a fork's)
	URL     string `json:"url,omitempty"`    // where a person reads it
	// Labels are its labels ("security" puts it in the priority lane).
	Labels []string `json:"labels,omitempty"`
	// Approvers are the reviewers whose latest review approves it.
	Approvers []string `json:"approvers,omitempty"`
}

// CommitState is the state of a commit status.
type CommitState string

// The states of a commit status, as GitHub names them.
const (
	CommitPending CommitState = "pending"
	CommitSuccess CommitState = "success"
	CommitFailure CommitState = "failure"
	CommitError   CommitState = "error"
)

// Valid reports whether s is one of the known states.
func (s CommitState) Valid() bool {
	return s == CommitPending || s == CommitSuccess || s == CommitFailure || s == CommitError
}

// MaxStatusDescription is the longest description GitHub takes on a commit status.
const MaxStatusDescription = 140

// CommitStatus is one status Crest sets on a commit.
type CommitStatus struct {
	State       CommitState `json:"state"`
	Context     string      `json:"context"`               // e.g. "crest/merge-queue"
	Description string      `json:"description,omitempty"` // one line, at most MaxStatusDescription
	TargetURL   string      `json:"target_url,omitempty"`  // a page with the details; optional
}

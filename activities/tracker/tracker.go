package tracker

import (
	"context"
	"time"
)

// Tracker files and follows issues in one issue tracker (one repository of it).
//
// Every method is idempotent: calling it again with the same arguments after a crash,
// a timeout or a retryable error has the effect of calling it once. Implementations
// return errors classified by the sentinels of this package (see IsRetryable) and never
// put credentials in errors, logs or returned values.
type Tracker interface {
	// Name returns the tracker's stable name ("github", "local"); it is Ref.Tracker of
	// every issue the tracker files.
	Name() string

	// Open files issue under fingerprint unless an open issue with that fingerprint
	// exists, and returns the issue's Ref and whether this call created it (false when
	// it found the issue, including one an earlier, failed attempt had filed). A closed
	// issue does not count: the same failure after a fix gets a new issue. Callers
	// serialize Open per fingerprint (the workflow does); two concurrent first Opens of
	// one fingerprint may file two issues.
	Open(ctx context.Context, fingerprint string, issue Issue) (Ref, bool, error)

	// Comment adds body to the issue as a comment identified by key; if a comment with
	// that key is already there, Comment does nothing.
	Comment(ctx context.Context, ref Ref, key, body string) error

	// Close closes the issue with reason, after adding body as a comment identified by
	// key (as Comment does) when body is not empty. Closing a closed issue succeeds.
	Close(ctx context.Context, ref Ref, reason CloseReason, key, body string) error

	// Get returns the issue's current state; ErrNotFound if there is no such issue.
	Get(ctx context.Context, ref Ref) (State, error)
}

// Issue is what Open files: plain text, ready to send.
type Issue struct {
	Title string `json:"title"` // one line; see tracker.Title
	// Body is Markdown; the tracker may append hidden markers to it.
	Body string `json:"body"`
	// Labels are added to the tracker's own (GitHub: "crest").
	Labels []string `json:"labels,omitempty"`
	// Assignees are tracker logins (GitHub handles for GitHub), already mapped from
	// maintainers. A tracker that cannot assign some of them mentions them in the body.
	Assignees []string `json:"assignees,omitempty"`
}

// Ref identifies a filed issue; it is what the store's outbox records.
type Ref struct {
	Tracker string `json:"tracker"`        // Tracker.Name of the tracker that filed it
	Repo    string `json:"repo,omitempty"` // "owner/name" for GitHub; empty when the tracker has one space
	Number  int64  `json:"number"`         // issue number within Repo, > 0
	URL     string `json:"url,omitempty"`  // where a person reads the issue
}

// Status is whether an issue is open or closed.
type Status string

// The statuses of an issue.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// CloseReason says why an issue was closed; GitHub shows the two differently.
type CloseReason string

// The reasons to close an issue.
const (
	// ReasonCompleted closes an issue whose failure is gone (the package built).
	ReasonCompleted CloseReason = "completed"
	// ReasonNotPlanned closes an issue that is settled without a fix (wont-fix, cant-fix).
	ReasonNotPlanned CloseReason = "not_planned"
)

// Valid reports whether r is one of the known reasons.
func (r CloseReason) Valid() bool {
	return r == ReasonCompleted || r == ReasonNotPlanned
}

// State is what Get reports about an issue.
type State struct {
	Ref    Ref         `json:"ref"`              // the issue, with its current URL
	Status Status      `json:"status"`           // open or closed
	Reason CloseReason `json:"reason,omitempty"` // set when closed and the tracker knows why
	// Comments counts all comments, Crest's and people's.
	Comments  int       `json:"comments"`
	UpdatedAt time.Time `json:"updated_at,omitzero"` // last change of any kind
	ClosedAt  time.Time `json:"closed_at,omitzero"`  // zero while open
	// LastExternalComment is when the newest comment not posted by Crest (one without a
	// Crest marker) was made; zero if there is none. Policy uses it to extend a grace
	// period while maintainers are talking.
	LastExternalComment time.Time `json:"last_external_comment,omitzero"`
}

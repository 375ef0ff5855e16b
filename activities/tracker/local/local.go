package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
)

// Name is the tracker name of local issues: Ref.Tracker of the issues it files.
const Name = store.LocalTracker

// crestAuthor is the author of Crest's own comments.
const crestAuthor = "crest"

// Options configures a Tracker; the zero value is ready to use.
type Options struct {
	// Repo names the issue space (Ref.Repo); empty for the only one.
	Repo string
	// Now stamps issues and comments; nil means time.Now.
	Now func() time.Time
}

// Tracker files issues into the store's local_issues table. It implements
// tracker.Tracker and is safe for concurrent use.
type Tracker struct {
	st   *store.Store
	repo string
	now  func() time.Time
}

var _ tracker.Tracker = (*Tracker)(nil)

// New returns a Tracker over st.
func New(st *store.Store, opts Options) *Tracker {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Tracker{st: st, repo: opts.Repo, now: now}
}

// Name implements tracker.Tracker.
func (t *Tracker) Name() string { return Name }

// Open implements tracker.Tracker.
func (t *Tracker) Open(ctx context.Context, fingerprint string, issue tracker.Issue) (tracker.Ref, bool, error) {
	if err := tracker.ValidateKey("fingerprint", fingerprint); err != nil {
		return tracker.Ref{}, false, t.invalid("open", err)
	}
	title := strings.Join(strings.Fields(issue.Title), " ")
	if title == "" {
		return tracker.Ref{}, false, t.invalid("open", errors.New("empty title"))
	}
	is, created, err := t.st.OpenLocalIssue(ctx, store.LocalIssue{
		Repo: t.repo, Fingerprint: fingerprint, Title: title, Body: issue.Body,
		Labels: issue.Labels, Assignees: issue.Assignees, CreatedAt: t.now(),
	})
	if err != nil {
		return tracker.Ref{}, false, t.fail(ctx, "open", err)
	}
	return t.ref(is.Number), created, nil
}

// Comment implements tracker.Tracker.
func (t *Tracker) Comment(ctx context.Context, ref tracker.Ref, key, body string) error {
	if err := tracker.ValidateKey("comment key", key); err != nil {
		return t.invalid("comment", err)
	}
	if err := t.check("comment", ref); err != nil {
		return err
	}
	_, err := t.st.AddLocalComment(ctx, t.repo, store.LocalComment{
		Issue: ref.Number, Key: key, Author: crestAuthor, Body: body, CreatedAt: t.now(),
	})
	if err != nil {
		return t.fail(ctx, "comment", err)
	}
	return nil
}

// Close implements tracker.Tracker.
func (t *Tracker) Close(ctx context.Context, ref tracker.Ref, reason tracker.CloseReason, key, body string) error {
	if !reason.Valid() {
		return t.invalid("close", fmt.Errorf("close reason %q", reason))
	}
	if body != "" {
		if err := tracker.ValidateKey("comment key", key); err != nil {
			return t.invalid("close", err)
		}
	}
	if err := t.check("close", ref); err != nil {
		return err
	}
	err := t.st.CloseLocalIssue(ctx, t.repo, ref.Number, string(reason), store.LocalComment{
		Key: key, Author: crestAuthor, Body: body, CreatedAt: t.now(),
	})
	if err != nil {
		return t.fail(ctx, "close", err)
	}
	return nil
}

// Get implements tracker.Tracker.
func (t *Tracker) Get(ctx context.Context, ref tracker.Ref) (tracker.State, error) {
	if err := t.check("get", ref); err != nil {
		return tracker.State{}, err
	}
	is, err := t.st.LocalIssue(ctx, ref.Number)
	if err == nil && is.Repo != t.repo {
		err = fmt.Errorf("local issue %d: %w", ref.Number, store.ErrNotFound)
	}
	if err != nil {
		return tracker.State{}, t.fail(ctx, "get", err)
	}
	return tracker.State{
		Ref:                 t.ref(is.Number),
		Status:              tracker.Status(is.State),
		Reason:              tracker.CloseReason(is.CloseReason),
		Comments:            is.Comments,
		UpdatedAt:           is.UpdatedAt,
		ClosedAt:            is.ClosedAt,
		LastExternalComment: is.LastExternalComment,
	}, nil
}

// CommentAs adds body to the issue as author, a person (not Crest): the comment has no
// key and moves State.LastExternalComment. It is not idempotent: each call adds a comment.
func (t *Tracker) CommentAs(ctx context.Context, ref tracker.Ref, author, body string) error {
	author = strings.TrimSpace(author)
	if author == "" {
		return t.invalid("comment", errors.New("no author"))
	}
	if strings.TrimSpace(body) == "" {
		return t.invalid("comment", errors.New("empty comment"))
	}
	if err := t.check("comment", ref); err != nil {
		return err
	}
	_, err := t.st.AddLocalComment(ctx, t.repo, store.LocalComment{
		Issue: ref.Number, Author: author, Body: body, CreatedAt: t.now(),
	})
	if err != nil {
		return t.fail(ctx, "comment", err)
	}
	return nil
}

func (t *Tracker) ref(number int64) tracker.Ref {
	return tracker.Ref{Tracker: Name, Repo: t.repo, Number: number}
}

// check rejects refs that cannot name an issue of this tracker as not found.
func (t *Tracker) check(op string, ref tracker.Ref) error {
	if ref.Tracker != Name || ref.Repo != t.repo || ref.Number < 1 {
		return &tracker.Error{Tracker: Name, Op: op, Kind: tracker.ErrNotFound, Message: fmt.Sprintf("issue %s#%d", ref.Repo, ref.Number)}
	}
	return nil
}

func (t *Tracker) invalid(op string, err error) error {
	var te *tracker.Error
	if errors.As(err, &te) {
		return &tracker.Error{Tracker: Name, Op: op, Kind: tracker.ErrInvalid, Message: te.Message}
	}
	return &tracker.Error{Tracker: Name, Op: op, Kind: tracker.ErrInvalid, Message: err.Error()}
}

// fail classifies a store error: a missing issue is permanent, a canceled call carries the
// context's error, anything else (the database) is retryable. Store errors never carry
// the DSN's password.
func (t *Tracker) fail(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &tracker.Error{Tracker: Name, Op: op, Kind: tracker.ErrNotFound, Message: err.Error()}
	case ctx.Err() != nil:
		return &tracker.Error{Tracker: Name, Op: op, Cause: ctx.Err()}
	default:
		return &tracker.Error{Tracker: Name, Op: op, Kind: tracker.ErrUnavailable, Message: err.Error()}
	}
}

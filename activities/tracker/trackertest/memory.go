package trackertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crestwaves/crest/activities/tracker"
)

// Memory is an in-memory tracker.Tracker. It passes the conformance suite, so tests of
// the layers above can use it in place of a real tracker; FailNext injects failures.
// Safe for concurrent use.
type Memory struct {
	mu     sync.Mutex
	name   string
	now    func() time.Time
	issues []*MemoryIssue
	fail   []error
}

// MemoryIssue is one issue Memory holds.
type MemoryIssue struct {
	Ref         tracker.Ref         // what Open returned
	Fingerprint string              // what Open was given
	Issue       tracker.Issue       // as filed
	Status      tracker.Status      // open or closed
	Reason      tracker.CloseReason // set when closed
	Comments    []MemoryComment     // oldest first
	CreatedAt   time.Time           // when Open filed it
	UpdatedAt   time.Time           // last comment or state change
	ClosedAt    time.Time           // zero while open
}

// MemoryComment is one comment on a MemoryIssue.
type MemoryComment struct {
	Key      string    // the comment key; empty for people's comments
	Body     string    // as given
	External bool      // posted by ExternalComment, not by Crest
	At       time.Time // when it was posted
}

// NewMemory returns an empty Memory named "memory".
func NewMemory() *Memory {
	return &Memory{name: "memory", now: time.Now}
}

// Name implements tracker.Tracker.
func (m *Memory) Name() string { return m.name }

// FailNext makes the next calls (one per error, in order) fail with errs before doing
// anything, e.g. &tracker.Error{Kind: tracker.ErrUnavailable}.
func (m *Memory) FailNext(errs ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = append(m.fail, errs...)
}

// Issues returns a copy of every issue, in filing order.
func (m *Memory) Issues() []MemoryIssue {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MemoryIssue, 0, len(m.issues))
	for _, is := range m.issues {
		c := *is
		c.Comments = slices.Clone(is.Comments)
		c.Issue.Labels = slices.Clone(is.Issue.Labels)
		c.Issue.Assignees = slices.Clone(is.Issue.Assignees)
		out = append(out, c)
	}
	return out
}

// ExternalComment adds a comment as a person would (no key, not Crest's).
func (m *Memory) ExternalComment(ctx context.Context, ref tracker.Ref, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	is, err := m.lookup("comment", ref)
	if err != nil {
		return err
	}
	now := m.now()
	is.Comments = append(is.Comments, MemoryComment{Body: body, External: true, At: now})
	is.UpdatedAt = now
	return nil
}

// Open implements tracker.Tracker.
func (m *Memory) Open(ctx context.Context, fingerprint string, issue tracker.Issue) (tracker.Ref, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "open"); err != nil {
		return tracker.Ref{}, false, err
	}
	if err := tracker.ValidateKey("fingerprint", fingerprint); err != nil {
		return tracker.Ref{}, false, m.invalid("open", err.(*tracker.Error).Message)
	}
	if strings.TrimSpace(issue.Title) == "" {
		return tracker.Ref{}, false, m.invalid("open", "empty title")
	}
	for _, is := range m.issues {
		if is.Fingerprint == fingerprint && is.Status == tracker.StatusOpen {
			return is.Ref, false, nil
		}
	}
	now := m.now()
	n := int64(len(m.issues) + 1)
	is := &MemoryIssue{
		Ref:         tracker.Ref{Tracker: m.name, Number: n, URL: fmt.Sprintf("memory://issues/%d", n)},
		Fingerprint: fingerprint,
		Issue:       issue,
		Status:      tracker.StatusOpen,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	is.Issue.Labels = slices.Clone(issue.Labels)
	is.Issue.Assignees = slices.Clone(issue.Assignees)
	m.issues = append(m.issues, is)
	return is.Ref, true, nil
}

// Comment implements tracker.Tracker.
func (m *Memory) Comment(ctx context.Context, ref tracker.Ref, key, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "comment"); err != nil {
		return err
	}
	return m.comment("comment", ref, key, body)
}

func (m *Memory) comment(op string, ref tracker.Ref, key, body string) error {
	if err := tracker.ValidateKey("comment key", key); err != nil {
		return m.invalid(op, err.(*tracker.Error).Message)
	}
	is, err := m.lookup(op, ref)
	if err != nil {
		return err
	}
	for _, c := range is.Comments {
		if c.Key == key {
			return nil
		}
	}
	now := m.now()
	is.Comments = append(is.Comments, MemoryComment{Key: key, Body: body, At: now})
	is.UpdatedAt = now
	return nil
}

// Close implements tracker.Tracker.
func (m *Memory) Close(ctx context.Context, ref tracker.Ref, reason tracker.CloseReason, key, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "close"); err != nil {
		return err
	}
	if !reason.Valid() {
		return m.invalid("close", fmt.Sprintf("close reason %q", reason))
	}
	if body != "" {
		if err := m.comment("close", ref, key, body); err != nil {
			return err
		}
	}
	is, err := m.lookup("close", ref)
	if err != nil {
		return err
	}
	if is.Status != tracker.StatusClosed {
		now := m.now()
		is.Status, is.Reason, is.ClosedAt, is.UpdatedAt = tracker.StatusClosed, reason, now, now
	}
	return nil
}

// Get implements tracker.Tracker.
func (m *Memory) Get(ctx context.Context, ref tracker.Ref) (tracker.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "get"); err != nil {
		return tracker.State{}, err
	}
	is, err := m.lookup("get", ref)
	if err != nil {
		return tracker.State{}, err
	}
	st := tracker.State{
		Ref:       is.Ref,
		Status:    is.Status,
		Reason:    is.Reason,
		Comments:  len(is.Comments),
		UpdatedAt: is.UpdatedAt,
		ClosedAt:  is.ClosedAt,
	}
	for _, c := range is.Comments {
		if c.External && c.At.After(st.LastExternalComment) {
			st.LastExternalComment = c.At
		}
	}
	return st, nil
}

// begin checks the context and pops an injected failure.
func (m *Memory) begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return &tracker.Error{Tracker: m.name, Op: op, Cause: err}
	}
	if len(m.fail) > 0 {
		err := m.fail[0]
		m.fail = m.fail[1:]
		return err
	}
	return nil
}

func (m *Memory) lookup(op string, ref tracker.Ref) (*MemoryIssue, error) {
	if ref.Tracker != m.name || ref.Number < 1 || ref.Number > int64(len(m.issues)) {
		return nil, &tracker.Error{Tracker: m.name, Op: op, Kind: tracker.ErrNotFound, Message: fmt.Sprintf("issue %d", ref.Number)}
	}
	return m.issues[ref.Number-1], nil
}

func (m *Memory) invalid(op, msg string) error {
	return &tracker.Error{Tracker: m.name, Op: op, Kind: tracker.ErrInvalid, Message: msg}
}

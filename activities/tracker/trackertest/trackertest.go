package trackertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
)

// Subject is one tracker under test, fresh for each check.
type Subject struct {
	Tracker tracker.Tracker // the implementation under test, with nothing filed yet
	// ExternalComment, when set, posts body on ref as a person would (not through
	// Tracker), so the suite can check State.LastExternalComment and that people's
	// comments do not disturb Crest's keyed ones. Checks that need it are skipped
	// without it.
	ExternalComment func(ctx context.Context, ref tracker.Ref, body string) error
}

// T is the part of *testing.T the checks use.
type T interface {
	require.TestingT
	Helper()
	Context() context.Context
}

// Check is one conformance check.
type Check struct {
	Name string               // subtest name
	Run  func(t T, s Subject) // fails t unless s behaves
}

// Run runs every check of the conformance suite as a subtest of t, each against a fresh
// Subject from newSubject. Every tracker.Tracker implementation must pass it.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) {
			c.Run(t, newSubject(t))
		})
	}
}

// Checks returns the conformance checks, in the order Run runs them.
func Checks() []Check {
	return []Check{
		{"OpenTwiceFilesOneIssue", checkOpenTwice},
		{"DistinctFingerprintsDistinctIssues", checkDistinctFingerprints},
		{"CommentTwiceSameKeyOneComment", checkCommentTwice},
		{"CommentKeysAreScopedToTheIssue", checkCommentKeysPerIssue},
		{"CloseWithCommentOnce", checkClose},
		{"CloseWithoutComment", checkCloseWithoutComment},
		{"ClosedIssueIsNotReused", checkClosedNotReused},
		{"UnknownIssueIsNotFound", checkNotFound},
		{"InvalidArgumentsArePermanent", checkInvalid},
		{"ExternalComments", checkExternalComments},
	}
}

// Fingerprints in the suite look like real ones but cannot clash with them.
const (
	fpA = "0000c0ffee000000000000000000000a"
	fpB = "0000c0ffee000000000000000000000b"
)

func sampleIssue(title string) tracker.Issue {
	return tracker.Issue{
		Title:  title,
		Body:   "libfoo fails to build.\n\n```text\nerror: boom\n```\n",
		Labels: []string{"wave-3"},
	}
}

func open(t T, s Subject, fp, title string) tracker.Ref {
	t.Helper()
	ref, created, err := s.Tracker.Open(t.Context(), fp, sampleIssue(title))
	require.NoError(t, err)
	require.True(t, created, "first Open of a fingerprint creates the issue")
	require.Equal(t, s.Tracker.Name(), ref.Tracker, "Ref.Tracker is the tracker's Name")
	require.Positive(t, ref.Number)
	return ref
}

func get(t T, s Subject, ref tracker.Ref) tracker.State {
	t.Helper()
	st, err := s.Tracker.Get(t.Context(), ref)
	require.NoError(t, err)
	return st
}

func sameIssue(t T, want, got tracker.Ref) {
	t.Helper()
	require.Equal(t, want.Tracker, got.Tracker)
	require.Equal(t, want.Repo, got.Repo)
	require.Equal(t, want.Number, got.Number)
}

func checkOpenTwice(t T, s Subject) {
	ref := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	again, created, err := s.Tracker.Open(t.Context(), fpA, sampleIssue("libfoo: build fails in wave-3-2"))
	require.NoError(t, err)
	require.False(t, created, "second Open of an open fingerprint finds the issue")
	sameIssue(t, ref, again)

	st := get(t, s, ref)
	sameIssue(t, ref, st.Ref)
	require.Equal(t, tracker.StatusOpen, st.Status)
	require.Zero(t, st.Comments)
	require.True(t, st.LastExternalComment.IsZero())
}

func checkDistinctFingerprints(t T, s Subject) {
	a := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	b := open(t, s, fpB, "libbar: tests fail in wave-3-1")
	require.NotEqual(t, a.Number, b.Number)
}

func checkCommentTwice(t T, s Subject) {
	ctx := t.Context()
	ref := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-2/recurred", "Still failing in wave-3-2."))
	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-2/recurred", "Still failing in wave-3-2."))
	require.Equal(t, 1, get(t, s, ref).Comments, "same key, one comment")

	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-3/recurred", "Still failing in wave-3-3."))
	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-2/recurred", "Still failing in wave-3-2."))
	st := get(t, s, ref)
	require.Equal(t, 2, st.Comments, "another key, another comment; the first key still once")
	require.True(t, st.LastExternalComment.IsZero(), "Crest's comments are not external")
}

func checkCommentKeysPerIssue(t T, s Subject) {
	ctx := t.Context()
	a := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	b := open(t, s, fpB, "libbar: build fails in wave-3-1")
	require.NoError(t, s.Tracker.Comment(ctx, a, "wave-3-2/recurred", "a"))
	require.NoError(t, s.Tracker.Comment(ctx, b, "wave-3-2/recurred", "b"))
	require.Equal(t, 1, get(t, s, a).Comments)
	require.Equal(t, 1, get(t, s, b).Comments)
}

func checkClose(t T, s Subject) {
	ctx := t.Context()
	ref := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-2/recurred", "Still failing."))
	require.NoError(t, s.Tracker.Close(ctx, ref, tracker.ReasonCompleted, "wave-3-3/fixed", "Fixed in wave-3-3."))

	st := get(t, s, ref)
	require.Equal(t, tracker.StatusClosed, st.Status)
	if st.Reason != "" {
		require.Equal(t, tracker.ReasonCompleted, st.Reason)
	}
	require.Equal(t, 2, st.Comments)
	require.False(t, st.ClosedAt.IsZero(), "a closed issue has ClosedAt")

	// A retried Close neither fails nor comments again.
	require.NoError(t, s.Tracker.Close(ctx, ref, tracker.ReasonCompleted, "wave-3-3/fixed", "Fixed in wave-3-3."))
	st = get(t, s, ref)
	require.Equal(t, tracker.StatusClosed, st.Status)
	require.Equal(t, 2, st.Comments)
}

func checkCloseWithoutComment(t T, s Subject) {
	ref := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	require.NoError(t, s.Tracker.Close(t.Context(), ref, tracker.ReasonNotPlanned, "", ""))
	st := get(t, s, ref)
	require.Equal(t, tracker.StatusClosed, st.Status)
	if st.Reason != "" {
		require.Equal(t, tracker.ReasonNotPlanned, st.Reason)
	}
	require.Zero(t, st.Comments)
}

func checkClosedNotReused(t T, s Subject) {
	ctx := t.Context()
	first := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	require.NoError(t, s.Tracker.Close(ctx, first, tracker.ReasonCompleted, "wave-3-2/fixed", "Fixed."))
	second := open(t, s, fpA, "libfoo: build fails in wave-4-1")
	require.NotEqual(t, first.Number, second.Number, "the same failure after a fix gets a new issue")
	require.Equal(t, tracker.StatusClosed, get(t, s, first).Status)
	require.Equal(t, tracker.StatusOpen, get(t, s, second).Status)
}

func checkNotFound(t T, s Subject) {
	ctx := t.Context()
	ref := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	missing := ref
	missing.Number += 1_000_000
	missing.URL = ""

	_, err := s.Tracker.Get(ctx, missing)
	require.ErrorIs(t, err, tracker.ErrNotFound)
	require.True(t, tracker.IsPermanent(err))
	require.False(t, tracker.IsRetryable(err))

	err = s.Tracker.Comment(ctx, missing, "wave-3-2/recurred", "x")
	require.ErrorIs(t, err, tracker.ErrNotFound)
}

func checkInvalid(t T, s Subject) {
	ctx := t.Context()
	permanent := func(err error, what string) {
		t.Helper()
		require.Error(t, err, what)
		require.True(t, tracker.IsPermanent(err), "%s: want a permanent error, got %v", what, err)
	}
	_, _, err := s.Tracker.Open(ctx, "", sampleIssue("t"))
	permanent(err, "empty fingerprint")
	_, _, err = s.Tracker.Open(ctx, "a-->b", sampleIssue("t"))
	permanent(err, "fingerprint that would end a marker")
	_, _, err = s.Tracker.Open(ctx, fpA, tracker.Issue{Body: "no title"})
	permanent(err, "empty title")

	ref := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	permanent(s.Tracker.Comment(ctx, ref, "", "x"), "empty comment key")
	permanent(s.Tracker.Close(ctx, ref, "because", "k", "x"), "unknown close reason")
	require.Equal(t, tracker.StatusOpen, get(t, s, ref).Status, "a rejected Close leaves the issue open")
	require.Zero(t, get(t, s, ref).Comments, "a rejected Close does not comment")
}

func checkExternalComments(t T, s Subject) {
	if s.ExternalComment == nil {
		if sk, ok := t.(interface{ Skip(...any) }); ok {
			sk.Skip("Subject.ExternalComment not set")
		}
		return
	}
	ctx := t.Context()
	ref := open(t, s, fpA, "libfoo: build fails in wave-3-1")
	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-2/recurred", "Still failing."))
	before := time.Now()
	require.NoError(t, s.ExternalComment(ctx, ref, "I'm on it, patch coming."))

	st := get(t, s, ref)
	require.Equal(t, 2, st.Comments)
	require.False(t, st.LastExternalComment.IsZero(), "a person's comment sets LastExternalComment")
	require.WithinDuration(t, before, st.LastExternalComment, 2*time.Minute)
	last := st.LastExternalComment

	// People's comments neither hide nor duplicate Crest's keyed ones.
	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-2/recurred", "Still failing."))
	require.NoError(t, s.Tracker.Comment(ctx, ref, "wave-3-3/recurred", "Still failing."))
	st = get(t, s, ref)
	require.Equal(t, 3, st.Comments)
	require.Equal(t, last, st.LastExternalComment, "Crest's comments do not move LastExternalComment")
}

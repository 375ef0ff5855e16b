package filer_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/filer"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/activities/tracker/trackertest"
	"github.com/crestwaves/crest/deploy/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const collection = "nixpkgs"

// Two runs of the same failure: other store hashes, build directories and line numbers.
const (
	logA1 = `building '/nix/store/3b5zq7v0lqd2x1c1w8l0b4x6hm4a1f9d-libfoo-1.2.drv'...
foo.c:12:5: error: 'SSL_get_peer_certificate' undeclared (first use in this function)
make: *** [Makefile:45: all] Error 1`
	logA2 = `building '/nix/store/9k2fgm0a7c4bzn1m3l9r8x0vyd6q2w5h-libfoo-1.3.drv'...
foo.c:14:9: error: 'SSL_get_peer_certificate' undeclared (first use in this function)
make: *** [Makefile:47: all] Error 1`
	// Another failure of the same package.
	logB = `foo_test.c:88: assertion failed: handshake() == 0
make: *** [Makefile:90: check] Error 2`
)

var deadline = time.Date(2030, 1, 2, 15, 4, 0, 0, time.UTC)

// subject is a tracker the filer files into, with a view of what it holds that does not
// go through the tracker interface.
type subject struct {
	tr tracker.Tracker
	// issues returns every issue filed, as title and body by number.
	issues func(t *testing.T) map[int64]filed
}

type filed struct {
	title, body string
	assignees   []string
}

type newSubject func(t *testing.T, st *store.Store) subject

func localSubject(t *testing.T, st *store.Store) subject {
	return subject{tr: local.New(st, local.Options{}), issues: func(t *testing.T) map[int64]filed {
		t.Helper()
		all, err := st.LocalIssues(t.Context(), "")
		require.NoError(t, err)
		out := map[int64]filed{}
		for _, is := range all {
			out[is.Number] = filed{is.Title, is.Body, is.Assignees}
		}
		return out
	}}
}

func memorySubject(t *testing.T, _ *store.Store) subject {
	m := trackertest.NewMemory()
	return subject{tr: m, issues: memoryIssues(m)}
}

func memoryIssues(m *trackertest.Memory) func(t *testing.T) map[int64]filed {
	return func(t *testing.T) map[int64]filed {
		out := map[int64]filed{}
		for _, is := range m.Issues() {
			out[is.Ref.Number] = filed{is.Issue.Title, is.Issue.Body, is.Issue.Assignees}
		}
		return out
	}
}

var subjects = map[string]newSubject{"local": localSubject, "memory": memorySubject}

// newFiler returns a filer over a fresh store with the collection registered.
func newFiler(t *testing.T, tr tracker.Tracker, st *store.Store) *filer.Filer {
	t.Helper()
	if st == nil {
		st = testenv.Store(t)
	}
	_, err := st.UpsertCollection(t.Context(), store.Collection{Name: collection, Remote: "https://example.org/nixpkgs.git"})
	require.NoError(t, err)
	return &filer.Filer{Store: st, Tracker: tr}
}

func rootCause(major, minor int, log string) filer.RootCauseReport {
	return filer.RootCauseReport{
		Collection: collection, Package: "libfoo", Maintainers: []string{"@alice", "bob", "alice"},
		Major: major, Minor: minor, System: "x86_64-linux", Commit: fmt.Sprintf("c0ffee%d%d", major, minor),
		Branch: fmt.Sprintf("wave-%d", major), Update: filer.Update{Package: "openssl", Ref: "update/openssl-3.0.14"},
		Drv: "/nix/store/3b5zq7v0lqd2x1c1w8l0b4x6hm4a1f9d-libfoo-1.2.drv", LogTail: log,
		Dependents: []string{"curl", "git", "python3"}, Deadline: deadline,
	}
}

func resolution(kind tracker.EventKind, major, minor int, log string) filer.ResolutionReport {
	return filer.ResolutionReport{
		Collection: collection, Package: "libfoo", LogTail: log, Resolution: kind,
		Major: major, Minor: minor, System: "x86_64-linux", By: "carol", Reason: "upstream is dead",
	}
}

func state(t *testing.T, f *filer.Filer, ref filer.IssueRef) tracker.State {
	t.Helper()
	st, err := f.State(t.Context(), ref)
	require.NoError(t, err)
	return st
}

func storeIssue(t *testing.T, f *filer.Filer, ref filer.IssueRef) store.Issue {
	t.Helper()
	is, err := f.Store.IssueByID(t.Context(), ref.ID)
	require.NoError(t, err)
	return is
}

func forEachSubject(t *testing.T, run func(t *testing.T, s subject, f *filer.Filer)) {
	for name, newSub := range subjects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := testenv.Store(t)
			s := newSub(t, st)
			run(t, s, newFiler(t, s.tr, st))
		})
	}
}

func TestFingerprintsOfTheTestLogs(t *testing.T) {
	t.Parallel()
	require.Equal(t, tracker.Fingerprint("libfoo", logA1), tracker.Fingerprint("libfoo", logA2))
	require.NotEqual(t, tracker.Fingerprint("libfoo", logA1), tracker.Fingerprint("libfoo", logB))
}

func TestRootCauseLifecycle(t *testing.T) {
	t.Parallel()
	forEachSubject(t, func(t *testing.T, s subject, f *filer.Filer) {
		ctx := t.Context()

		// First seen in wave-3-1: one issue, addressed to the maintainers.
		first, err := f.RootCause(ctx, rootCause(3, 1, logA1))
		require.NoError(t, err)
		require.True(t, first.Opened)
		require.Positive(t, first.Ref.Number)
		require.Equal(t, s.tr.Name(), first.Ref.Tracker)
		require.Equal(t, "open", first.State)
		require.Equal(t, tracker.Fingerprint("libfoo", logA1), first.Fingerprint)
		require.Equal(t, collection+"/"+first.Fingerprint+"/wave-3-1/open", first.Event)
		issues := s.issues(t)
		require.Len(t, issues, 1)
		is := issues[first.Ref.Number]
		require.Equal(t, "libfoo: build fails in wave-3-1", is.title)
		for _, want := range []string{"`curl`", "`git`", "`python3`", "Blocked dependents (3)", "2030-01-02 15:04 UTC", "`c0ffee31`", "openssl (update/openssl-3.0.14)", "SSL_get_peer_certificate"} {
			require.Contains(t, is.body, want)
		}
		require.Equal(t, []string{"alice", "bob"}, is.assignees)
		require.Zero(t, state(t, f, first).Comments)

		// The activity is retried: nothing new.
		again, err := f.RootCause(ctx, rootCause(3, 1, logA1))
		require.NoError(t, err)
		require.Equal(t, first, again)
		require.Len(t, s.issues(t), 1)
		require.Zero(t, state(t, f, first).Comments)

		// The same failure in the next major wave comments on the open issue.
		recur, err := f.RootCause(ctx, rootCause(4, 1, logA2))
		require.NoError(t, err)
		require.False(t, recur.Opened)
		require.Equal(t, first.Ref, recur.Ref)
		require.Equal(t, collection+"/"+first.Fingerprint+"/wave-4-1/recurred", recur.Event)
		_, err = f.RootCause(ctx, rootCause(4, 1, logA2))
		require.NoError(t, err)
		require.Len(t, s.issues(t), 1)
		require.Equal(t, 1, state(t, f, first).Comments)
		row := storeIssue(t, f, first)
		require.Equal(t, "wave-3-1", row.FirstWave())
		require.Equal(t, "wave-4-1", row.LastWave())
		require.Equal(t, 1, row.Comments)

		// A retry after a fix commit that fails the same way is another comment.
		retry := rootCause(4, 1, logA2)
		retry.Attempt = 1
		r1, err := f.RootCause(ctx, retry)
		require.NoError(t, err)
		require.Equal(t, first.Ref.Number, r1.Ref.Number)
		require.Equal(t, 2, state(t, f, first).Comments)

		// Another failure of the same package is another issue.
		other, err := f.RootCause(ctx, rootCause(4, 1, logB))
		require.NoError(t, err)
		require.True(t, other.Opened)
		require.NotEqual(t, first.Ref.Number, other.Ref.Number)
		require.NotEqual(t, first.Fingerprint, other.Fingerprint)
		require.Len(t, s.issues(t), 2)

		// The fix comments and closes, once.
		fixed, err := f.Resolved(ctx, resolution(tracker.EventFixed, 4, 2, logA2))
		require.NoError(t, err)
		require.Equal(t, first.Ref.Number, fixed.Ref.Number)
		require.Equal(t, "closed", fixed.State)
		fixedAgain, err := f.Resolved(ctx, resolution(tracker.EventFixed, 4, 2, logA2))
		require.NoError(t, err)
		require.Equal(t, fixed, fixedAgain)
		st := state(t, f, first)
		require.Equal(t, tracker.StatusClosed, st.Status)
		require.Equal(t, tracker.ReasonCompleted, st.Reason)
		require.Equal(t, 3, st.Comments)
		row = storeIssue(t, f, first)
		require.Equal(t, "closed", row.State)
		require.Equal(t, "completed", row.CloseReason)
		require.Equal(t, "fixed", row.Resolution)
		require.False(t, row.ClosedAt.IsZero())

		// Nothing open is left to fix.
		_, err = f.Resolved(ctx, resolution(tracker.EventFixed, 4, 3, logA2))
		require.ErrorIs(t, err, filer.ErrNoOpenIssue)
		require.True(t, tracker.IsPermanent(err))

		// The same failure after the fix is a new issue; the closed one stays closed.
		back, err := f.RootCause(ctx, rootCause(5, 1, logA1))
		require.NoError(t, err)
		require.True(t, back.Opened)
		require.NotEqual(t, first.Ref.Number, back.Ref.Number)
		require.Equal(t, tracker.StatusClosed, state(t, f, first).Status)
		require.Len(t, s.issues(t), 3)

		// Lookups.
		ofPkg, err := f.IssuesOfPackage(ctx, collection, "libfoo")
		require.NoError(t, err)
		require.Len(t, ofPkg, 3)
		open, err := f.OpenIssues(ctx, collection)
		require.NoError(t, err)
		require.Len(t, open, 2)
		byFP, err := f.IssueByFingerprint(ctx, collection, first.Fingerprint)
		require.NoError(t, err)
		require.Equal(t, back.ID, byFP.ID, "the open issue of the fingerprint wins")
		_, err = f.IssueByFingerprint(ctx, collection, "feedfacefeedfacefeedfacefeedface")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestResolutions(t *testing.T) {
	t.Parallel()
	forEachSubject(t, func(t *testing.T, s subject, f *filer.Filer) {
		ctx := t.Context()
		for _, kind := range []tracker.EventKind{tracker.EventWontFix, tracker.EventCantFix} {
			log := logA1 + "\nerror: " + string(kind) // a failure of its own
			ref, err := f.RootCause(ctx, rootCause(3, 1, log))
			require.NoError(t, err)
			for range 2 {
				got, err := f.Resolved(ctx, resolution(kind, 3, 1, log))
				require.NoError(t, err)
				require.Equal(t, "closed", got.State)
			}
			st := state(t, f, ref)
			require.Equal(t, tracker.StatusClosed, st.Status)
			require.Equal(t, tracker.ReasonNotPlanned, st.Reason, "%s closes as not planned", kind)
			require.Equal(t, 1, st.Comments, "%s is written once", kind)
			row := storeIssue(t, f, ref)
			require.Equal(t, string(kind), row.Resolution)
			require.Equal(t, "not_planned", row.CloseReason)
		}

		// Marked broken: written, stays open; a later fix closes it.
		ref, err := f.RootCause(ctx, rootCause(3, 1, logA1))
		require.NoError(t, err)
		for range 2 {
			got, err := f.Resolved(ctx, resolution(tracker.EventMarkedBroken, 3, 1, logA1))
			require.NoError(t, err)
			require.Equal(t, "open", got.State)
		}
		st := state(t, f, ref)
		require.Equal(t, tracker.StatusOpen, st.Status)
		require.Equal(t, 1, st.Comments)
		require.Equal(t, "marked-broken", storeIssue(t, f, ref).Resolution)

		// Resolved finds the issue by the fingerprint RootCause returned, too.
		fix := resolution(tracker.EventFixed, 3, 2, "")
		fix.Fingerprint = ref.Fingerprint
		got, err := f.Resolved(ctx, fix)
		require.NoError(t, err)
		require.Equal(t, "closed", got.State)
		require.Equal(t, tracker.ReasonCompleted, state(t, f, ref).Reason)
		require.Equal(t, 2, state(t, f, ref).Comments)
		require.Len(t, s.issues(t), 3)

		events, err := f.Store.IssueEvents(ctx, ref.ID)
		require.NoError(t, err)
		var kinds []string
		for _, e := range events {
			require.Equal(t, store.IssueEventDone, e.State)
			require.Equal(t, 1, e.Attempts)
			kinds = append(kinds, e.Event)
		}
		require.Equal(t, []string{"open", "marked-broken", "fixed"}, kinds)
	})
}

// flaky wraps a tracker: calls can be made to fail after the tracker did the work (a
// response lost to a timeout, or a crash before the outbox was updated), and calls are
// counted.
type flaky struct {
	tracker.Tracker
	mu    sync.Mutex
	lose  map[string]int // op → how many of its next calls lose their response
	calls map[string]int
}

func newFlaky(tr tracker.Tracker) *flaky {
	return &flaky{Tracker: tr, lose: map[string]int{}, calls: map[string]int{}}
}

func (f *flaky) loseNext(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose[op]++
}

func (f *flaky) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *flaky) after(op string, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if err == nil && f.lose[op] > 0 {
		f.lose[op]--
		return &tracker.Error{Tracker: f.Name(), Op: op, Kind: tracker.ErrUnavailable, Status: 504, Message: "response lost"}
	}
	return err
}

func (f *flaky) Open(ctx context.Context, fp string, is tracker.Issue) (tracker.Ref, bool, error) {
	ref, created, err := f.Tracker.Open(ctx, fp, is)
	if err = f.after("open", err); err != nil {
		return tracker.Ref{}, false, err
	}
	return ref, created, nil
}

func (f *flaky) Comment(ctx context.Context, ref tracker.Ref, key, body string) error {
	return f.after("comment", f.Tracker.Comment(ctx, ref, key, body))
}

func (f *flaky) Close(ctx context.Context, ref tracker.Ref, reason tracker.CloseReason, key, body string) error {
	return f.after("close", f.Tracker.Close(ctx, ref, reason, key, body))
}

func TestExactlyOnceAfterLostResponses(t *testing.T) {
	t.Parallel()
	for name, newSub := range subjects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := testenv.Store(t)
			s := newSub(t, st)
			fl := newFlaky(s.tr)
			f := newFiler(t, fl, st)

			// Open: the issue is filed, the answer is lost, the outbox stays pending.
			fl.loseNext("open")
			_, err := f.RootCause(ctx, rootCause(3, 1, logA1))
			require.ErrorIs(t, err, tracker.ErrUnavailable)
			require.True(t, tracker.IsRetryable(err))
			key := collection + "/" + tracker.Fingerprint("libfoo", logA1) + "/wave-3-1/open"
			ev, err := st.IssueEventByKey(ctx, key)
			require.NoError(t, err)
			require.Equal(t, store.IssueEventPending, ev.State)
			require.Equal(t, 1, ev.Attempts)
			require.Contains(t, ev.LastError, "response lost")
			require.Len(t, s.issues(t), 1, "the tracker did file it")

			ref, err := f.RootCause(ctx, rootCause(3, 1, logA1))
			require.NoError(t, err)
			require.True(t, ref.Opened)
			require.Len(t, s.issues(t), 1, "the retry found it")
			ev, err = st.IssueEventByKey(ctx, key)
			require.NoError(t, err)
			require.Equal(t, store.IssueEventDone, ev.State)
			require.Equal(t, 2, ev.Attempts)
			require.Empty(t, ev.LastError)

			// Comment: lost answer, then the retry; one comment.
			fl.loseNext("comment")
			_, err = f.RootCause(ctx, rootCause(4, 1, logA2))
			require.Error(t, err)
			_, err = f.RootCause(ctx, rootCause(4, 1, logA2))
			require.NoError(t, err)
			require.Equal(t, 1, state(t, f, ref).Comments)

			// Close: lost answer, then the retry; one comment, closed.
			fl.loseNext("close")
			_, err = f.Resolved(ctx, resolution(tracker.EventFixed, 4, 2, logA2))
			require.Error(t, err)
			require.Equal(t, "open", storeIssue(t, f, ref).State, "the outbox did not see the close")
			got, err := f.Resolved(ctx, resolution(tracker.EventFixed, 4, 2, logA2))
			require.NoError(t, err)
			require.Equal(t, "closed", got.State)
			st2 := state(t, f, ref)
			require.Equal(t, tracker.StatusClosed, st2.Status)
			require.Equal(t, 2, st2.Comments)

			// Done events never reach the tracker again.
			calls := [3]int{fl.count("open"), fl.count("comment"), fl.count("close")}
			_, err = f.RootCause(ctx, rootCause(3, 1, logA1))
			require.NoError(t, err)
			_, err = f.RootCause(ctx, rootCause(4, 1, logA2))
			require.NoError(t, err)
			_, err = f.Resolved(ctx, resolution(tracker.EventFixed, 4, 2, logA2))
			require.NoError(t, err)
			require.Equal(t, calls, [3]int{fl.count("open"), fl.count("comment"), fl.count("close")})
			require.Len(t, s.issues(t), 1)
		})
	}
}

func TestFailuresBeforeTheTrackerActs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m := trackertest.NewMemory()
	f := newFiler(t, m, nil)

	// The tracker is down: retryable, nothing filed, the attempt recorded.
	m.FailNext(&tracker.Error{Tracker: "memory", Op: "open", Kind: tracker.ErrUnavailable, Status: 502})
	_, err := f.RootCause(ctx, rootCause(3, 1, logA1))
	require.ErrorIs(t, err, tracker.ErrUnavailable)
	require.True(t, tracker.IsRetryable(err))
	require.Empty(t, m.Issues())

	// It rejects the request: permanent. The issue row waits, unfiled.
	m.FailNext(&tracker.Error{Tracker: "memory", Op: "open", Kind: tracker.ErrForbidden, Status: 403})
	_, err = f.RootCause(ctx, rootCause(3, 1, logA1))
	require.ErrorIs(t, err, tracker.ErrForbidden)
	require.True(t, tracker.IsPermanent(err))
	rows, err := f.Store.Issues(ctx, store.IssueFilter{Collection: collection})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Zero(t, rows[0].Number)

	// The next wave sees the failure again: the issue is filed first, then commented on.
	ref, err := f.RootCause(ctx, rootCause(3, 2, logA2))
	require.NoError(t, err)
	require.False(t, ref.Opened)
	require.Positive(t, ref.Ref.Number)
	issues := m.Issues()
	require.Len(t, issues, 1)
	require.Equal(t, "libfoo: build fails in wave-3-1", issues[0].Issue.Title, "filed as first seen")
	require.Len(t, issues[0].Comments, 1)
	require.Equal(t, "wave-3-2/recurred", issues[0].Comments[0].Key)

	// The first wave's retry now returns the filed issue without calling the tracker.
	m.FailNext(&tracker.Error{Kind: tracker.ErrUnavailable})
	first, err := f.RootCause(ctx, rootCause(3, 1, logA1))
	require.NoError(t, err)
	require.True(t, first.Opened)
	require.Equal(t, ref.Ref, first.Ref)
	_, err = m.Get(ctx, ref.Ref)
	require.ErrorIs(t, err, tracker.ErrUnavailable, "the injected failure was not consumed by the filer")
}

func TestContextCanceledIsPermanent(t *testing.T) {
	t.Parallel()
	f := newFiler(t, trackertest.NewMemory(), nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.RootCause(ctx, rootCause(3, 1, logA1))
	require.Error(t, err)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, tracker.IsPermanent(err))
}

func TestInvalidReportsArePermanent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFiler(t, trackertest.NewMemory(), nil)
	bad := map[string]filer.RootCauseReport{}
	r := rootCause(3, 1, logA1)
	r.Collection = ""
	bad["no collection"] = r
	r = rootCause(3, 1, logA1)
	r.Collection = "unknown"
	bad["unknown collection"] = r
	r = rootCause(3, 1, logA1)
	r.Package = " "
	bad["no package"] = r
	bad["minor 0"] = rootCause(3, 0, logA1)
	r = rootCause(3, 1, logA1)
	r.Phase = "deploy"
	bad["bad phase"] = r
	for name, r := range bad {
		_, err := f.RootCause(ctx, r)
		require.ErrorIs(t, err, tracker.ErrInvalid, name)
		require.True(t, tracker.IsPermanent(err), name)
	}

	res := resolution("passed", 3, 1, logA1)
	_, err := f.Resolved(ctx, res)
	require.ErrorIs(t, err, tracker.ErrInvalid)
	res = resolution(tracker.EventFixed, 3, 1, "")
	_, err = f.Resolved(ctx, res)
	require.ErrorIs(t, err, tracker.ErrInvalid, "no fingerprint and no log")
}

func TestTrackerChangeSupersedesTheOpenIssue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := testenv.Store(t)
	mem := newFiler(t, trackertest.NewMemory(), st)
	old, err := mem.RootCause(ctx, rootCause(3, 1, logA1))
	require.NoError(t, err)

	loc := &filer.Filer{Store: st, Tracker: local.New(st, local.Options{})}
	_, err = mem.Resolved(ctx, resolution(tracker.EventFixed, 3, 1, logA1))
	require.NoError(t, err, "the old filer can still write to its own issue")
	fresh, err := mem.RootCause(ctx, rootCause(4, 1, logA1))
	require.NoError(t, err)

	moved, err := loc.RootCause(ctx, rootCause(4, 2, logA1))
	require.NoError(t, err)
	require.True(t, moved.Opened)
	require.Equal(t, "local", moved.Ref.Tracker)
	require.NotEqual(t, old.ID, moved.ID)
	row := storeIssue(t, loc, fresh)
	require.Equal(t, "closed", row.State)
	require.Equal(t, store.CloseSuperseded, row.CloseReason)

	// The old filer's issue is no longer the open one.
	_, err = mem.Resolved(ctx, resolution(tracker.EventWontFix, 4, 2, logA1))
	require.ErrorIs(t, err, tracker.ErrInvalid, "the open issue is on the local tracker")
}

func TestLogsCarryNoSecretsAndNameTheIssue(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	f := newFiler(t, trackertest.NewMemory(), nil)
	f.Logger = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	_, err := f.RootCause(t.Context(), rootCause(3, 1, logA1))
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, buf.String(), "filed issue")
	require.Contains(t, buf.String(), "package=libfoo")
	require.False(t, strings.Contains(buf.String(), "postgres://"), "no DSN in logs")
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// TestCollectionTagPrefix: a collection that names its waves "rel-N-M" sees that prefix in
// everything the filer writes (title, body, label, outbox and comment keys) and in the
// store's issue rows; never the default.
func TestCollectionTagPrefix(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := testenv.Store(t)
	_, err := st.UpsertCollection(ctx, store.Collection{Name: "rels", Remote: "https://example.org/rels.git",
		Settings: []byte(`{"name": "rels", "tag_prefix": "rel"}`)})
	require.NoError(t, err)
	m := trackertest.NewMemory()
	f := &filer.Filer{Store: st, Tracker: m}

	rc := rootCause(3, 1, logA1)
	rc.Collection, rc.Branch = "rels", "rel-3"
	first, err := f.RootCause(ctx, rc)
	require.NoError(t, err)
	require.Equal(t, "rels/"+first.Fingerprint+"/rel-3-1/open", first.Event)
	rc.Major, rc.Minor = 3, 2
	recur, err := f.RootCause(ctx, rc)
	require.NoError(t, err)
	require.Equal(t, "rels/"+first.Fingerprint+"/rel-3-2/recurred", recur.Event)
	res := resolution(tracker.EventFixed, 3, 3, logA1)
	res.Collection = "rels"
	fixed, err := f.Resolved(ctx, res)
	require.NoError(t, err)
	require.Equal(t, "rels/"+first.Fingerprint+"/rel-3-3/fixed", fixed.Event)

	issues := m.Issues()
	require.Len(t, issues, 1)
	is := issues[0]
	require.Equal(t, "libfoo: build fails in rel-3-1", is.Issue.Title)
	require.Equal(t, []string{"rel-3"}, is.Issue.Labels)
	require.Contains(t, is.Issue.Body, "crest wave retry rel-3-1 libfoo")
	var keys []string
	for _, c := range is.Comments {
		keys = append(keys, c.Key)
		require.NotContains(t, c.Body, "wave-3")
	}
	require.Equal(t, []string{"rel-3-2/recurred", "rel-3-3/fixed"}, keys)
	require.NotContains(t, is.Issue.Title+is.Issue.Body, "wave-3")

	row := storeIssue(t, f, first)
	require.Equal(t, "rel-3-1", row.FirstWave())
	require.Equal(t, "rel-3-2", row.LastWave())
}

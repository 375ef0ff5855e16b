package trackertest_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/trackertest"
)

// recorder is a trackertest.T that remembers failure instead of failing the test.
type recorder struct {
	ctx    context.Context
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (r *recorder) Helper()                  {}
func (r *recorder) Context() context.Context { return r.ctx }
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) FailNow() { runtime.Goexit() }

// failingChecks runs every check against subjects from newSubject and returns the names
// of those that failed.
func failingChecks(t *testing.T, newSubject func() trackertest.Subject) []string {
	t.Helper()
	var failed []string
	for _, c := range trackertest.Checks() {
		r := &recorder{ctx: t.Context()}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(r, newSubject())
		}()
		<-done
		if r.failed {
			failed = append(failed, c.Name)
		}
	}
	return failed
}

// alwaysCreates forgets every issue it filed: Open never finds one.
type alwaysCreates struct {
	*trackertest.Memory
	n atomic.Int64
}

func (a *alwaysCreates) Open(ctx context.Context, fp string, is tracker.Issue) (tracker.Ref, bool, error) {
	return a.Memory.Open(ctx, fmt.Sprintf("%s.%d", fp, a.n.Add(1)), is)
}

// commentsEveryTime ignores comment keys.
type commentsEveryTime struct {
	*trackertest.Memory
	n atomic.Int64
}

func (c *commentsEveryTime) Comment(ctx context.Context, ref tracker.Ref, key, body string) error {
	return c.Memory.Comment(ctx, ref, fmt.Sprintf("%s.%d", key, c.n.Add(1)), body)
}

func TestSuiteCatchesBrokenTrackers(t *testing.T) {
	t.Parallel()
	require.Empty(t, failingChecks(t, func() trackertest.Subject {
		m := trackertest.NewMemory()
		return trackertest.Subject{Tracker: m, ExternalComment: m.ExternalComment}
	}), "the reference implementation passes")

	failed := failingChecks(t, func() trackertest.Subject {
		return trackertest.Subject{Tracker: &alwaysCreates{Memory: trackertest.NewMemory()}}
	})
	require.Contains(t, failed, "OpenTwiceFilesOneIssue")

	failed = failingChecks(t, func() trackertest.Subject {
		m := trackertest.NewMemory()
		return trackertest.Subject{Tracker: &commentsEveryTime{Memory: m}, ExternalComment: m.ExternalComment}
	})
	require.Contains(t, failed, "CommentTwiceSameKeyOneComment")
	require.Contains(t, failed, "ExternalComments")
}

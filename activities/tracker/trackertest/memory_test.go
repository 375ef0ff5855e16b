package trackertest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/trackertest"
)

func TestMemoryConforms(t *testing.T) {
	t.Parallel()
	trackertest.Run(t, func(t *testing.T) trackertest.Subject {
		m := trackertest.NewMemory()
		return trackertest.Subject{Tracker: m, ExternalComment: m.ExternalComment}
	})
}

func TestMemoryFailNext(t *testing.T) {
	t.Parallel()
	m := trackertest.NewMemory()
	m.FailNext(&tracker.Error{Kind: tracker.ErrUnavailable, Status: 502})
	_, _, err := m.Open(t.Context(), "fp", tracker.Issue{Title: "t"})
	require.ErrorIs(t, err, tracker.ErrUnavailable)
	require.True(t, tracker.IsRetryable(err))

	ref, created, err := m.Open(t.Context(), "fp", tracker.Issue{Title: "t"})
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, m.Issues(), 1)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = m.Get(ctx, ref)
	require.True(t, errors.Is(err, context.Canceled))
	require.True(t, tracker.IsPermanent(err))
}

package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
)

func TestRetryability(t *testing.T) {
	t.Parallel()
	e := func(kind error) error { return &tracker.Error{Tracker: "github", Op: "open", Kind: kind} }
	tests := []struct {
		name      string
		err       error
		retryable bool
	}{
		{"nil", nil, false},
		{"not found", e(tracker.ErrNotFound), false},
		{"unauthorized", e(tracker.ErrUnauthorized), false},
		{"forbidden", e(tracker.ErrForbidden), false},
		{"invalid", e(tracker.ErrInvalid), false},
		{"rate limited", e(tracker.ErrRateLimited), true},
		{"unavailable", e(tracker.ErrUnavailable), true},
		{"wrapped unavailable", fmt.Errorf("file issue: %w", e(tracker.ErrUnavailable)), true},
		{"canceled", &tracker.Error{Op: "open", Cause: context.Canceled}, false},
		{"deadline", &tracker.Error{Op: "open", Cause: context.DeadlineExceeded}, true},
		{"unclassified", errors.New("connection reset by peer"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.retryable, tracker.IsRetryable(tt.err))
			require.Equal(t, tt.err != nil && !tt.retryable, tracker.IsPermanent(tt.err))
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	err := &tracker.Error{Tracker: "github", Op: "open", Kind: tracker.ErrRateLimited, Status: 403,
		Message: "API rate limit exceeded", RetryAt: at}
	require.Equal(t, "github: open: rate limited (403): API rate limit exceeded [retry at 2025-07-01T12:00:00Z]", err.Error())
	got, ok := tracker.RetryAt(fmt.Errorf("x: %w", err))
	require.True(t, ok)
	require.Equal(t, at, got)
	_, ok = tracker.RetryAt(errors.New("x"))
	require.False(t, ok)

	err = &tracker.Error{Tracker: "github", Op: "open", Kind: tracker.ErrInvalid, Status: 422, Message: "Validation Failed", Fields: []string{"assignees"}}
	require.Equal(t, "github: open: invalid request (422): Validation Failed [fields: assignees]", err.Error())

	err = &tracker.Error{Tracker: "memory", Op: "get", Cause: context.Canceled}
	require.Equal(t, "memory: get: context canceled", err.Error())
	require.ErrorIs(t, err, context.Canceled)
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	ok := []string{"wave-3-2/recurred", "wave-3-2/recurred/2", "0123abcdef", "a.b_c:d@e+f=g"}
	bad := []string{"", "a b", "a-->b", "a--b", "x>", "ünï", strings.Repeat("a", tracker.MaxKeyLen+1)}
	for _, k := range ok {
		require.NoError(t, tracker.ValidateKey("key", k), k)
	}
	for _, k := range bad {
		err := tracker.ValidateKey("key", k)
		require.ErrorIs(t, err, tracker.ErrInvalid, k)
		require.True(t, tracker.IsPermanent(err))
	}
}

func TestMarkers(t *testing.T) {
	t.Parallel()
	require.Equal(t, "<!-- crest:fingerprint=abc -->", tracker.FingerprintMarker("abc"))
	require.Equal(t, "<!-- crest:comment=wave-3-2/fixed -->", tracker.CommentMarker("wave-3-2/fixed"))
	require.True(t, tracker.HasMarker("Fixed.\n\n"+tracker.CommentMarker("k")))
	require.False(t, tracker.HasMarker("I'm on it <!-- a note -->"))
	require.NotContains(t, tracker.FingerprintMarker("ab"), tracker.FingerprintMarker("a"), "a marker is not a prefix of another")
}

package tracker_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
)

func ejected() tracker.QueueResult {
	return tracker.QueueResult{
		Outcome: tracker.QueueEjected, Change: 12, Collection: "demo", Branch: "main", Title: "libnet 2",
		Ref: "refs/pull/7/head", Commit: "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6", Lane: "fast",
		LaneReason: "3 rebuilds, under the 500 of consider_staging",
		Reason:     "change 12 breaks libhttp: it fails with the change (probe prefix 1) and builds without it (probe prefix 0)",
		Failures: []tracker.QueueFailure{{Package: "libhttp", Status: "failed",
			LogTail: "gcc -c http.c\nhttp.c:12: undefined reference to 'net_connect'\n```\ncollect2: error: ld returned 1 exit status"}},
		Probes: []tracker.QueueProbe{
			{Round: 1, Kind: "base", Commit: "1111111111111111111111111111111111111111", Packages: []string{"libhttp"}},
			{Round: 1, Kind: "rebuild", Prefix: 1, Commit: "2222222222222222222222222222222222222222", Packages: []string{"libhttp"}, Failed: []string{"libhttp"}},
		},
		Pull: 7,
	}
}

func TestQueueCommentGolden(t *testing.T) {
	t.Parallel()
	golden(t, "queue_ejected.golden.md", tracker.QueueComment(ejected()))
	merged := tracker.QueueResult{Outcome: tracker.QueueMerged, Change: 11, Collection: "demo", Branch: "main",
		Title: "calc: print 3 decimals", Ref: "fix/calc-precision", Commit: "abcdefabcdefabcdefabcdefabcdefabcdefabcd", Lane: "fast",
		Reason: "3f5e0c9d2a1b built green (4 packages); main fast-forwarded to it", Head: "3f5e0c9d2a1b4c5d6e7f8091a2b3c4d5e6f70819"}
	golden(t, "queue_merged.golden.md", tracker.QueueComment(merged))
}

func TestQueueStatusPerOutcome(t *testing.T) {
	t.Parallel()
	for outcome, want := range map[tracker.QueueOutcome]tracker.CommitState{
		tracker.QueuePending: tracker.CommitPending, tracker.QueueMerged: tracker.CommitSuccess,
		tracker.QueueEjected: tracker.CommitFailure, tracker.QueueConflict: tracker.CommitFailure,
		tracker.QueueWithdrawn: tracker.CommitError, tracker.QueueHandedToWave: tracker.CommitError,
	} {
		r := ejected()
		r.Outcome = outcome
		r.Reason = strings.Repeat("ünïcode reason ", 30)
		s := tracker.QueueStatus(r)
		require.Equal(t, want, s.State, outcome)
		require.Equal(t, tracker.QueueStatusContext, s.Context)
		require.LessOrEqual(t, len(s.Description), tracker.MaxStatusDescription, outcome)
		require.True(t, utf8.ValidString(s.Description), outcome)
		require.NotContains(t, s.Description, "\n")
		require.NoError(t, tracker.ValidateKey("comment key", r.Key()))
	}
	require.Equal(t, "Ejected: breaks libhttp", tracker.QueueStatus(ejected()).Description)
}

// TestQueueCommentFits: logs are cut, from the top, until the comment fits.
func TestQueueCommentFits(t *testing.T) {
	t.Parallel()
	r := ejected()
	line := strings.Repeat("é", 300) + "\n"
	for i := range 20 {
		r.Failures = append(r.Failures, tracker.QueueFailure{Package: "pkg" + strings.Repeat("x", i), Status: "failed",
			LogTail: strings.Repeat(line, 2000) + "the last line"})
	}
	body := tracker.QueueComment(r)
	require.LessOrEqual(t, len(body), tracker.MaxBodyBytes)
	require.True(t, utf8.ValidString(body))
	require.Contains(t, body, "the last line")
	require.Contains(t, body, "What next")
}

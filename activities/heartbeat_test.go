package activities

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/crestwaves/crest/activities/wire"
)

// TestPulseBeatsWhileSilentWorkRuns: a long silent step (a Nixpkgs evaluation, a clone)
// inside a pulse keeps beating, and nothing beats once it ends.
func TestPulseBeatsWhileSilentWorkRuns(t *testing.T) {
	var beats atomic.Int32
	stop := pulse(context.Background(), 10*time.Millisecond, true, func() { beats.Add(1) })
	// Beats keep coming while the work runs (however slowly a loaded machine ticks).
	require.Eventually(t, func() bool { return beats.Load() >= 5 }, time.Minute, time.Millisecond)
	stop()
	during := beats.Load()
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, during, beats.Load(), "none after it ends")
}

// TestKeepAliveHeartbeatsInAnActivity: keepAlive records heartbeats through the SDK inside
// an activity and is a no-op outside one.
func TestKeepAliveHeartbeatsInAnActivity(t *testing.T) {
	var beats atomic.Int32
	var env testsuite.WorkflowTestSuite
	aenv := env.NewTestActivityEnvironment()
	aenv.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })
	silent := func(ctx context.Context) error {
		defer keepAlive(ctx, "evaluating")()
		return nil
	}
	aenv.RegisterActivity(silent)
	_, err := aenv.ExecuteActivity(silent)
	require.NoError(t, err)
	require.Positive(t, beats.Load())
	keepAlive(context.Background(), "outside an activity")()
}

// TestSummaryStaysSmall: whatever the failure count, a summary bound for workflow history
// lists at most MaxFailuresListed root causes, the unresolved first, and counts them all.
func TestSummaryStaysSmall(t *testing.T) {
	var s wire.Summary
	for i := range 20000 {
		f := wire.Failure{Package: fmt.Sprintf("p%05d", i), Status: "failed"}
		if i%2 == 0 {
			f.Resolution = "wont-fix"
		}
		s.Failures = append(s.Failures, f)
	}
	got := capFailures(s)
	require.Len(t, got.Failures, wire.MaxFailuresListed)
	require.Equal(t, 20000, got.RootCauses)
	for _, f := range got.Failures {
		require.Empty(t, f.Resolution, "unresolved first")
	}
	small := capFailures(wire.Summary{Failures: s.Failures[:3]})
	require.Len(t, small.Failures, 3)
	require.Equal(t, 3, small.RootCauses)
}

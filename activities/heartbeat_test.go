package activities

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
)

// TestPulseBeatsWhileSilentWorkRuns: a long silent step (a Nixpkgs evaluation, a clone)
// inside a pulse keeps beating, and nothing beats once it ends.
func TestPulseBeatsWhileSilentWorkRuns(t *testing.T) {
	var beats atomic.Int32
	stop := pulse(context.Background(), 10*time.Millisecond, func() { beats.Add(1) })
	time.Sleep(150 * time.Millisecond)
	stop()
	during := beats.Load()
	require.GreaterOrEqual(t, during, int32(5))
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

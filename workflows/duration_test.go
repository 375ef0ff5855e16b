package workflows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/workflows"
)

// TestOneDurationSyntax: limits read the same durations as policy ("7d" works everywhere)
// and write Go notation, which older workers read too.
func TestOneDurationSyntax(t *testing.T) {
	var l workflows.Limits
	require.NoError(t, json.Unmarshal([]byte(`{"build_timeout": "1d12h", "heartbeat_timeout": "90s"}`), &l))
	require.Equal(t, workflows.Duration(36*time.Hour), l.BuildTimeout)
	require.Equal(t, workflows.Duration(90*time.Second), l.HeartbeatTimeout)
	b, err := json.Marshal(l.BuildTimeout)
	require.NoError(t, err)
	require.Equal(t, `"36h0m0s"`, string(b))
	err = json.Unmarshal([]byte(`{"build_timeout": "7 days"}`), &l)
	require.ErrorContains(t, err, `invalid duration "7 days"`)
}

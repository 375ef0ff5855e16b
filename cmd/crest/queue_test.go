package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
)

// TestQueueCommands: `crest queue submit` refuses an unknown ref with a clear message and
// records nothing; a good change is queued (the queue starts with it, and its intake),
// merged, and shows in list, status and stats; the local issue that follows it is closed
// with the result.
func TestQueueCommands(t *testing.T) {
	t.Setenv("CREST_QUEUE_GITHUB_POLL_INTERVAL", "1s") // the intake the submission starts
	cfg := devConfig(t)
	_, stop := startDev(t, cfg)
	defer stop()
	crest := func(args ...string) (string, error) {
		return runCrest(t, append([]string{"--data-dir", cfg.DataDir, "queue"}, args...)...)
	}

	// The first submission starts the queue, with its settings, even when it is refused.
	settings := `{"window_start": 1, "max_wait": "1s"}`
	_, err := crest("submit", "--ref", "no/such/ref", "--title", "nothing", "--queue-settings", settings)
	require.ErrorContains(t, err, `ref "no/such/ref" not found`)
	out, err := crest("list", "--all")
	require.NoError(t, err)
	require.NotContains(t, out, "no/such/ref", "a refused change is not recorded")

	out, err = crest("submit", "--ref", demo.FixCalcPrecision, "--title", "calc: print 3 decimals")
	require.NoError(t, err)
	require.Contains(t, out, "queued for main of demo")

	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err = crest("list", "--all")
		require.NoError(t, err)
		if strings.Contains(out, store.QueueMerged) {
			break
		}
		require.True(t, time.Now().Before(deadline), "not merged in time:\n%s", out)
		time.Sleep(500 * time.Millisecond)
	}
	require.Contains(t, out, demo.FixCalcPrecision)

	out, err = crest("status", "1")
	require.NoError(t, err)
	require.Contains(t, out, "state: merged")
	require.Contains(t, out, "lane:  fast")
	out, err = crest("status")
	require.NoError(t, err)
	require.Contains(t, out, "merged 1")

	out, err = crest("stats", "--format", "json")
	require.NoError(t, err)
	var st store.QueueStats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, 1, st.Merged)
	require.Len(t, st.Lanes, 1)
	require.Equal(t, "fast", st.Lanes[0].Lane)
	require.Positive(t, st.Lanes[0].P50)
	out, err = crest("stats")
	require.NoError(t, err)
	require.Contains(t, out, "builds per merged change")

	_, err = crest("withdraw", "1")
	require.ErrorContains(t, err, "is not waiting")

	// The intake reports the result to the local tracker, which stands in for a pull request.
	var issue string
	for {
		out, err = crest("status", "1")
		require.NoError(t, err)
		if _, rest, ok := strings.Cut(out, "followed in local issue #"); ok && strings.Contains(out, "reported: merged") {
			issue, _, _ = strings.Cut(rest, " ")
			break
		}
		require.True(t, time.Now().Before(deadline), "not reported in time:\n%s", out)
		time.Sleep(500 * time.Millisecond)
	}
	out, err = runCrest(t, "--data-dir", cfg.DataDir, "issues", "show", issue)
	require.NoError(t, err)
	require.Contains(t, out, "queue: change 1 (fix/calc-precision) into main: calc: print 3 decimals [closed, completed]")
	require.Contains(t, out, "**Merged.**")
}

package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/internal/shareddata"
)

func runBenchQueueCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newBenchCmd(&app{})
	var out, progress bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&progress)
	cmd.SetArgs(append([]string{"queue"}, args...))
	err := cmd.Execute()
	return out.String(), progress.String(), err
}

// TestBenchQueueJSON runs a short simulation on the hello graph and reads, per strategy
// and lane, the fields the command promises.
func TestBenchQueueJSON(t *testing.T) {
	t.Parallel()
	hello := shareddata.For(t, shareddata.NixpkgsHello)
	args := []string{"--graph", hello, "--key", "id", "--days", "10", "--changes-per-day", "50", "--builders", "8", "--seed", "3", "--format", "json"}
	out, progress, err := runBenchQueueCmd(t, args...)
	require.NoError(t, err, progress)
	require.Contains(t, progress, "loaded 93 packages, 368 edges")

	var res struct {
		Submitted  int                                  `json:"submitted"`
		ByStrategy map[string]map[string]map[string]any `json:"by_strategy"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Positive(t, res.Submitted)
	for _, strategy := range []string{"crest", "one-at-a-time", "bors"} {
		lanes := res.ByStrategy[strategy]
		require.NotNil(t, lanes, strategy)
		for _, lane := range []string{"fast", "wave", "priority", "all"} {
			m := lanes[lane]
			for _, field := range []string{"p50_seconds", "p95_seconds", "p99_seconds", "merged", "builds_per_merged"} {
				require.IsType(t, float64(0), m[field], "%s %s %s", strategy, lane, field)
			}
		}
		fast := lanes["fast"]
		require.Positive(t, fast["merged"], strategy)
		require.Positive(t, fast["p50_seconds"], strategy)
		require.LessOrEqual(t, fast["p50_seconds"].(float64), fast["p99_seconds"].(float64), strategy)
	}

	again, _, err := runBenchQueueCmd(t, append(args, "-q")...)
	require.NoError(t, err)
	require.Equal(t, out, again, "a fixed seed gives the same output")
}

func TestBenchQueueText(t *testing.T) {
	t.Parallel()
	hello := shareddata.For(t, shareddata.NixpkgsHello)
	out, _, err := runBenchQueueCmd(t, "--graph", hello, "--days", "5", "-q")
	require.NoError(t, err)
	require.Contains(t, out, "5 days, 100 changes/day")
	require.Contains(t, out, "one-at-a-time")
	require.Contains(t, out, "builds/merged")

	_, _, err = runBenchQueueCmd(t, "--graph", hello, "--format", "svg")
	require.ErrorContains(t, err, `format "svg": want text or json`)
	_, _, err = runBenchQueueCmd(t, "--graph", hello, "--failure-rate", "2")
	require.ErrorContains(t, err, "--failure-rate: out of range")
}

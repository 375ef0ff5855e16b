package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/deploy/bench"
)

func TestBenchWavesRejectsOtherBuilders(t *testing.T) {
	t.Parallel()
	cmd := newBenchCmd(&app{})
	cmd.SetArgs([]string{"waves", "--builder", "nix", "--packages", "10"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	require.ErrorContains(t, err, `builder "nix": the benchmark supports noop and model`)
}

func TestBenchWavesFlags(t *testing.T) {
	t.Parallel()
	cmd := newBenchCmd(&app{})
	waves, _, err := cmd.Find([]string{"waves"})
	require.NoError(t, err)
	for flag, def := range map[string]string{"packages": "100000", "builder": "noop", "shard-size": "400",
		"shards": "4", "builds-per-shard": "64", "json": "false", "fail-share": "0",
		"time-scale": "0", "slots": "0"} {
		f := waves.Flags().Lookup(flag)
		require.NotNil(t, f, flag)
		require.Equal(t, def, f.DefValue, flag)
	}
}

// TestBenchWavesSmallRun runs the real command end to end on a small collection.
func TestBenchWavesSmallRun(t *testing.T) {
	t.Parallel()
	cmd := newBenchCmd(&app{})
	var out, progress bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&progress)
	cmd.SetArgs([]string{"waves", "--packages", "120", "--shard-size", "30", "--shards", "2", "--builds-per-shard", "8", "--json"})
	require.NoError(t, cmd.Execute(), progress.String())
	var res bench.Result
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	require.Equal(t, 120, res.Packages)
	require.Equal(t, "wave-1-1", res.Tag)
	require.LessOrEqual(t, res.MaxHistory.Length, int64(bench.HistoryBudget))
	require.Greater(t, res.Crest.PerSec, 0.0)
	require.Greater(t, res.Raw.PerSec, 0.0)
	require.Contains(t, progress.String(), "collection: Debian bookworm")
}

func TestBenchChaosFlags(t *testing.T) {
	t.Parallel()
	cmd := newBenchCmd(&app{})
	chaos, _, err := cmd.Find([]string{"chaos"})
	require.NoError(t, err)
	for flag, def := range map[string]string{"kills": "5", "server-restarts": "1", "seed": "0", "timeout": "15m0s", "json": "false"} {
		f := chaos.Flags().Lookup(flag)
		require.NotNil(t, f, flag)
		require.Equal(t, def, f.DefValue, flag)
	}
	worker, _, err := cmd.Find([]string{"chaos-worker"})
	require.NoError(t, err)
	require.True(t, worker.Hidden)
}

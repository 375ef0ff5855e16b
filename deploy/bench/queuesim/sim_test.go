package queuesim

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/internal/shareddata"
	"github.com/crestwaves/crest/policy"
)

func loadGraph(tb testing.TB, name string) *graph.Graph {
	tb.Helper()
	fh, err := os.Open(shareddata.For(tb, name))
	require.NoError(tb, err)
	defer fh.Close()
	g, _, err := graph.Load(fh, graph.ReadOptions{Key: graph.KeyID}, graph.Options{})
	require.NoError(tb, err)
	return g
}

// TestDeterministic: the same graph, options and seed give the same result, byte for byte;
// another seed gives other traffic.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	g := loadGraph(t, shareddata.NixpkgsHello)
	o := Options{Days: 20, ChangesPerDay: 60, FailureRate: 0.2, Builders: 8, Seed: 42}
	run := func(o Options) []byte {
		res, err := Run(g, o)
		require.NoError(t, err)
		b, err := res.JSON()
		require.NoError(t, err)
		return b
	}
	first := run(o)
	require.Equal(t, string(first), string(run(o)))
	o.Seed = 43
	require.NotEqual(t, string(first), string(run(o)))
}

// TestOutcomes: under every strategy, each submitted change ends merged, ejected or still
// queued; a change that breaks nothing is never ejected; and with time to drain, crest
// ejects exactly the breaking changes.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	g := loadGraph(t, shareddata.NixpkgsHello)
	o := Options{Days: 30, ChangesPerDay: 40, FailureRate: 0.15, SecurityRate: 0.05, Builders: 16, Seed: 7,
		Queue: policy.QueueSettings{Parallelism: 3}}.withDefaults()
	m, err := newModel(g)
	require.NoError(t, err)
	changes, err := traffic(m, o)
	require.NoError(t, err)
	require.Greater(t, len(changes), 1000)
	breaking := 0
	for _, c := range changes {
		if c.breaks >= 0 {
			breaking++
			require.True(t, slices.Contains(c.rebuilds, c.breaks), "a change breaks a package it rebuilds")
		}
	}
	require.Positive(t, breaking)

	for _, name := range Strategies {
		sr, e, err := simulate(name, m, o, changes)
		require.NoError(t, err, name)
		require.Equal(t, len(changes), sr.Merged+sr.Ejected+sr.Queued, name)
		require.Equal(t, len(changes), sr.Submitted, name)
		for _, c := range changes {
			if c.breaks < 0 {
				require.NotEqual(t, 2, e.status[c.n], "%s: %s breaks nothing but was ejected", name, c.id)
			} else {
				require.NotEqual(t, 1, e.status[c.n], "%s: %s breaks %s but was merged", name, c.id, m.keys[c.breaks])
			}
		}
		if name == StrategyCrest {
			require.Equal(t, breaking, sr.Ejected, "every breaking change is found")
			require.Less(t, sr.Queued, 20)
		}
	}
}

// TestYear prints the year on the recorded Nixpkgs apps graph, with the goals of the
// merge queue; set CREST_QUEUESIM_YEAR=1 to run it (it takes seconds).
func TestYear(t *testing.T) {
	if os.Getenv("CREST_QUEUESIM_YEAR") == "" {
		t.Skip("set CREST_QUEUESIM_YEAR=1 to simulate a year on the apps graph")
	}
	g := loadGraph(t, shareddata.NixpkgsApps)
	res, err := Run(g, Options{Progress: os.Stderr})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, res.WriteText(&out))
	t.Log("\n" + out.String())
	crest, ok := res.Strategy(StrategyCrest)
	require.True(t, ok)
	fast := crest.Lanes[0]
	require.Equal(t, policy.LaneFast, fast.Lane)
	require.LessOrEqual(t, fast.P50Seconds, 2*3600.0)
	require.LessOrEqual(t, fast.P95Seconds, 6*3600.0)
	require.LessOrEqual(t, fast.P99Seconds, 12*3600.0)
	require.LessOrEqual(t, fast.BuildsPerMerged, 1.3)
}

package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/workflows"
)

// TestRunSmall runs the whole engine on a few hundred packages and checks what must hold
// whatever the speed: everything built and recorded once, histories within budget, the tag.
func TestRunSmall(t *testing.T) {
	res, err := Run(context.Background(), Options{Packages: 300, Limits: smallLimits, Progress: testWriter{t}})
	require.NoError(t, err)
	require.NoError(t, res.WriteText(os.Stdout))
	require.Equal(t, 300, res.Packages)
	require.Greater(t, res.Layers, 1)
	require.LessOrEqual(t, res.MaxHistory.Length, int64(HistoryBudget))
	require.Equal(t, "wave-1-1", res.Tag)
	require.Len(t, res.Verified, 6)
}

// smallLimits cut a few hundred packages into several shards per layer.
var smallLimits = workflows.Limits{ShardSize: 40, Shards: 2, BuildsPerShard: 8}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// BenchmarkMinorWave measures a 5,000-package minor wave against the raw rate.
//
//	go test -bench BenchmarkMinorWave -run '^$' ./deploy/bench/
func BenchmarkMinorWave(b *testing.B) {
	n := 5000
	if s := os.Getenv("CREST_BENCH_PACKAGES"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err)
		n = v
	}
	var res *Result
	for b.Loop() {
		var err error
		res, err = Run(context.Background(), Options{Packages: n})
		require.NoError(b, err)
	}
	require.NoError(b, res.WriteText(os.Stderr))
	b.ReportMetric(res.Crest.PerSec, "pkgs/s")
	b.ReportMetric(res.Raw.PerSec, "raw-acts/s")
	b.ReportMetric(100*res.Ratio, "%-of-raw")
	b.ReportMetric(float64(res.MaxHistory.Length), "max-history")
	b.ReportMetric(res.Crest.Seconds, "wave-s")
}

// TestRunSmallWithFailures fails a fifth of a few hundred packages: exactly the chosen ones
// fail, their dependents are dependency-failed, the policy marks every failure broken after
// its one-second grace period, and the wave still tags.
func TestRunSmallWithFailures(t *testing.T) {
	res, err := Run(context.Background(), Options{Packages: 300, Limits: smallLimits, FailShare: 0.2, SkipRaw: true, Progress: testWriter{t}})
	require.NoError(t, err)
	require.NoError(t, res.WriteText(os.Stdout))
	require.Equal(t, "wave-1-1", res.Tag)
	require.Positive(t, res.Failed)
	require.Equal(t, res.Failed, res.MarkedBroken)
	require.Equal(t, int64(300-res.DependencyFailed), res.Builds)
	require.Positive(t, res.MaxPayload.Bytes)
	require.NotEmpty(t, res.MaxPayload.EventType)
	require.LessOrEqual(t, res.MaxHistory.Length, int64(HistoryBudget))
}

func TestFailsIsAStableShare(t *testing.T) {
	t.Parallel()
	n := 0
	for i := range 10000 {
		k := "pkg" + strconv.Itoa(i)
		require.Equal(t, Fails(k, 0.2), Fails(k, 0.2))
		n += b2i(Fails(k, 0.2))
	}
	require.InDelta(t, 2000, n, 200)
	require.False(t, Fails("x", 0))
	key, ok := keyOfDrv("/nix/store/bench-v2-lib_a~3.drv")
	require.True(t, ok)
	require.Equal(t, "lib_a~3", key)
}

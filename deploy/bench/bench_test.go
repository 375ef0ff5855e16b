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

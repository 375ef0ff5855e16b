package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// recordBuilt records a build outside minor waves (as a patch's are) that took secs, as
// BuildPackage does: StartedAt is when the build began.
func recordBuilt(t testing.TB, st *store.Store, key, system, pkg, status string, secs float64) {
	t.Helper()
	started := time.Now().Add(-time.Duration(secs * float64(time.Second)))
	require.NoError(t, st.RecordBuild(context.Background(), store.BuildRecord{Key: key, System: system, Package: pkg,
		Drv: "/nix/store/" + pkg + ".drv", Status: status, StartedAt: started}))
}

// exec runs one statement on the test's database, for setting up what only time would.
func exec(t testing.TB, st *store.Store, sql string, args ...any) {
	t.Helper()
	require.NoError(t, st.InTx(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), sql, args...)
		return err
	}))
}

// TestRecordBuildMeasuresTheAttemptThatBuilt: every finished build (passed, failed,
// test-failed) has its finish recorded, and its start is when the attempt that built it
// began, not when an earlier attempt, killed while running, inserted the row.
func TestRecordBuildMeasuresTheAttemptThatBuilt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, []graph.Package{
		{Key: "app", Name: "app", Drv: "/nix/store/app.drv"},
		{Key: "bad", Name: "bad", Drv: "/nix/store/bad.drv"},
		{Key: "flaky", Name: "flaky", Drv: "/nix/store/flaky.drv"},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, []store.RoundRow{{Package: "app"}, {Package: "bad"}, {Package: "flaky"}}))

	// The first attempt at app started five hours ago and died; the retry built for 90 s.
	app := store.BuildRecord{Key: "k/app", MinorWaveID: m.ID, System: sys, Package: "app"}
	_, _, done, err := st.StartBuild(ctx, ev.ID, app)
	require.NoError(t, err)
	require.False(t, done)
	exec(t, st, `UPDATE builds SET started_at = now() - interval '5 hours' WHERE key = 'k/app'`)
	_, _, done, err = st.StartBuild(ctx, ev.ID, app)
	require.NoError(t, err)
	require.False(t, done)
	app.Drv, app.Status, app.StartedAt = "/nix/store/app.drv", store.StatusPassed, time.Now().Add(-90*time.Second)
	require.NoError(t, st.RecordBuild(ctx, app))

	for _, b := range []struct {
		pkg, status string
	}{{"bad", store.StatusFailed}, {"flaky", store.StatusTestFailed}} {
		r := store.BuildRecord{Key: "k/" + b.pkg, MinorWaveID: m.ID, System: sys, Package: b.pkg}
		_, _, _, err := st.StartBuild(ctx, ev.ID, r)
		require.NoError(t, err)
		r.Drv, r.Status, r.StartedAt = "/nix/store/"+b.pkg+".drv", b.status, time.Now().Add(-time.Minute)
		require.NoError(t, st.RecordBuild(ctx, r))
	}

	spans, err := st.BuildSpans(ctx, m.ID)
	require.NoError(t, err)
	require.Len(t, spans, 3, "passed, failed and test-failed builds all have their finish recorded")
	for pkg, sp := range spans {
		require.False(t, sp.Finished.Before(sp.Started), pkg)
	}
	took := func(pkg string) float64 { return spans[pkg].Finished.Sub(spans[pkg].Started).Seconds() }
	require.InDelta(t, 90, took("app"), 30, "the retry's build time, not the five hours since the first attempt")
	require.InDelta(t, 60, took("bad"), 30)
	require.InDelta(t, 60, took("flaky"), 30)

	// Recorded again (a retried activity), the first record stands, start included.
	again := app
	again.StartedAt = time.Now().Add(-10 * time.Hour)
	require.NoError(t, st.RecordBuild(ctx, again))
	spans, err = st.BuildSpans(ctx, m.ID)
	require.NoError(t, err)
	require.InDelta(t, 90, took("app"), 30)

	// A record that does not say when it started keeps the start of its running row.
	other := store.BuildRecord{Key: "k/other", System: sys, Package: "other"}
	require.NoError(t, st.BuildStarted(ctx, other))
	exec(t, st, `UPDATE builds SET started_at = now() - interval '2 hours' WHERE key = 'k/other'`)
	other.Drv, other.Status = "/nix/store/other.drv", store.StatusPassed
	require.NoError(t, st.RecordBuild(ctx, other))
	got, err := st.LastBuildSeconds(ctx, sys, []string{"other"})
	require.NoError(t, err)
	require.InDelta(t, 7200, got["other"], 60)
}

// TestLastBuildSeconds: per package, the newest completed build on the system asked about
// (passed or test-failed) gives the duration; failed and running builds, other systems and
// packages never built give nothing.
func TestLastBuildSeconds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys, other = "x86_64-linux", "aarch64-linux"

	recordBuilt(t, st, "old/app", sys, "app", store.StatusPassed, 100)
	recordBuilt(t, st, "new/app", sys, "app", store.StatusPassed, 3000)
	// The older one is a day older, however fast this machine records.
	exec(t, st, `UPDATE builds SET started_at = started_at - interval '1 day', finished_at = finished_at - interval '1 day' WHERE key = 'old/app'`)
	recordBuilt(t, st, "arm/app", other, "app", store.StatusPassed, 9000)
	exec(t, st, `UPDATE builds SET finished_at = finished_at + interval '1 hour', started_at = started_at + interval '1 hour' WHERE key = 'arm/app'`)

	recordBuilt(t, st, "ok/lib", sys, "lib", store.StatusPassed, 400)
	recordBuilt(t, st, "bad/lib", sys, "lib", store.StatusFailed, 5) // newer, but failed
	exec(t, st, `UPDATE builds SET finished_at = finished_at + interval '1 hour' WHERE key = 'bad/lib'`)

	recordBuilt(t, st, "t/tested", sys, "tested", store.StatusTestFailed, 700)
	recordBuilt(t, st, "f/broken", sys, "broken", store.StatusFailed, 50)
	require.NoError(t, st.BuildStarted(ctx, store.BuildRecord{Key: "r/running", System: sys, Package: "running", Drv: "/d"}))
	recordBuilt(t, st, "arm/armonly", other, "armonly", store.StatusPassed, 10)

	got, err := st.LastBuildSeconds(ctx, sys, []string{"app", "lib", "tested", "broken", "running", "armonly", "nosuch", "app"})
	require.NoError(t, err)
	require.Len(t, got, 3, "only app, lib and tested have a completed build on %s: %v", sys, got)
	require.InDelta(t, 3000, got["app"], 30, "the newest build wins; the other system's newer one does not count")
	require.InDelta(t, 400, got["lib"], 30, "a failed build is not a measurement")
	require.InDelta(t, 700, got["tested"], 30, "a test-failed build built its package in full")

	got, err = st.LastBuildSeconds(ctx, other, []string{"app", "armonly", "lib"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.InDelta(t, 9000, got["app"], 30)

	got, err = st.LastBuildSeconds(ctx, sys, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

// BenchmarkLastBuildSeconds100k prices a 100,000-package graph from a history of three
// builds per package on its system and one on another (400,000 builds).
func BenchmarkLastBuildSeconds100k(b *testing.B) {
	ctx := context.Background()
	st := testenv.Store(b)
	const n = 100_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("pkg-%06d", i)
	}
	require.NoError(b, st.InTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"builds"}, []string{"key", "package", "drv", "system", "status", "started_at", "finished_at"},
			pgx.CopyFromSlice(4*n, func(i int) ([]any, error) {
				k, attempt := keys[i%n], i/n
				sys, status := "x86_64-linux", "passed"
				if attempt == 3 {
					sys = "aarch64-linux"
				}
				if i%7 == 0 {
					status = "failed"
				}
				fin := time.Unix(1_700_000_000+int64(attempt)*86_400, 0)
				return []any{fmt.Sprint(attempt, "/", k), k, "/d/" + k, sys, status, fin.Add(-time.Duration(60+i%3600) * time.Second), fin}, nil
			}))
		return err
	}))
	exec(b, st, `ANALYZE builds`)
	got, err := st.LastBuildSeconds(ctx, "x86_64-linux", keys)
	require.NoError(b, err)
	require.Len(b, got, n)
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.LastBuildSeconds(ctx, "x86_64-linux", keys); err != nil {
			b.Fatal(err)
		}
	}
}

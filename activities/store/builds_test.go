package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// TestStartAndRecordBuildOncePerKey follows one key through a first attempt, a retried
// attempt after a crash, the recorded outcome, and a duplicate record.
func TestStartAndRecordBuildOncePerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", "x86_64-linux", []graph.Package{
		{Key: "lib", Name: "lib", Drv: "/nix/store/lib.drv"},
		{Key: "app", Name: "app", Drv: "/nix/store/app.drv", Deps: []string{"lib"}, Tests: []graph.Test{{Name: "t", Drv: "/nix/store/t.drv"}}},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, "x86_64-linux", 0, []store.RoundRow{
		{Package: "lib", Drv: "/nix/store/lib.drv"}, {Package: "app", Drv: "/nix/store/app.drv", Layer: 1}}))

	key := store.BuildRecord{Key: "k/app", MinorWaveID: m.ID, System: "x86_64-linux", Package: "app"}
	p, _, done, err := st.StartBuild(ctx, ev.ID, key)
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, "/nix/store/app.drv", p.Drv)
	require.Equal(t, []graph.Test{{Name: "t", Drv: "/nix/store/t.drv"}}, p.Tests)
	running, done, err := st.BuildStatus(ctx, key.Key)
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, "running", running.Status, "the build is recorded as running")

	_, _, done, err = st.StartBuild(ctx, ev.ID, key)
	require.NoError(t, err)
	require.False(t, done, "an attempt that died while running builds again")

	// Infrastructure trouble while retrying shows on the pending package, until a build is
	// recorded.
	require.NoError(t, st.RecordBuildTrouble(ctx, m.ID, "x86_64-linux", "app", "attempt 2: nix-store: store locked"))
	rs, err := st.Results(ctx, m.ID, "app")
	require.NoError(t, err)
	require.Equal(t, "attempt 2: nix-store: store locked", rs[0].LastError)

	rec := key
	rec.Drv, rec.Status, rec.ExitCode, rec.LogTail = p.Drv, store.StatusTestFailed, 1, "t failed"
	rec.Builder, rec.Built = "builder-b:42", 2
	require.NoError(t, st.RecordBuild(ctx, rec))
	lib := store.BuildRecord{Key: "k/lib", MinorWaveID: m.ID, System: "x86_64-linux", Package: "lib", Drv: "/nix/store/lib.drv",
		Status: store.StatusPassed, Builder: "builder-a:7", Built: 0}
	require.NoError(t, st.RecordBuild(ctx, lib))
	per, err := st.BuildsPerBuilder(ctx, w.ID)
	require.NoError(t, err)
	require.Equal(t, []store.BuilderCount{{Builder: "builder-a:7", Builds: 1, Built: 0}, {Builder: "builder-b:42", Builds: 1, Built: 2}}, per,
		"lib came from the cache, app was built with its test")
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/lib", MinorWaveID: m.ID, System: "x86_64-linux",
		Package: "lib", Drv: "/nix/store/lib.drv", Status: store.StatusPassed}), "recording again changes nothing")
	rs, err = st.Results(ctx, m.ID, "app")
	require.NoError(t, err)
	require.Empty(t, rs[0].LastError, "a recorded build clears the trouble")
	_, got, done, err := st.StartBuild(ctx, ev.ID, key)
	require.NoError(t, err)
	require.True(t, done, "a retried activity reports the recorded outcome")
	require.Equal(t, store.StatusTestFailed, got.Status)
	require.Equal(t, 1, got.ExitCode)
	require.Equal(t, "t failed", got.LogTail)

	again := rec
	again.Status = store.StatusPassed
	require.NoError(t, st.RecordBuild(ctx, again), "recording a key twice is harmless")
	results, err := st.Results(ctx, m.ID, "app")
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, store.StatusTestFailed, results[0].Status, "the first outcome stands")
	require.Equal(t, 1, results[0].Attempts)
	counts, err := st.MinorWaveCounts(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, 1, counts.TestFailed)
	require.Equal(t, 1, counts.Passed, "lib came from the cache")
	n, err := st.FinishedBuilds(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	_, _, _, err = st.StartBuild(ctx, ev.ID, store.BuildRecord{Key: "k/nosuch", MinorWaveID: m.ID, System: "x86_64-linux", Package: "nosuch"})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestTakeShardBlocksOnTheLatestFailure marks dependents of a failure dependency-failed with
// its root cause, and goes by a dependency's latest minor wave: rebuilt green there, it blocks
// nothing any more.
func TestTakeShardBlocksOnTheLatestFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, []graph.Package{
		{Key: "lib", Name: "lib", Drv: "/nix/store/lib.drv"},
		{Key: "app", Name: "app", Drv: "/nix/store/app.drv", Deps: []string{"lib"}},
		{Key: "tool", Name: "tool", Drv: "/nix/store/tool.drv", Deps: []string{"app", "lib"}},
		{Key: "other", Name: "other", Drv: "/nix/store/other.drv"},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m1, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m1.ID, sys, 0, []store.RoundRow{
		{Package: "lib"}, {Package: "other"}, {Package: "app", Layer: 1}, {Package: "tool", Layer: 2}}))
	tasks, blocked, err := st.TakeShard(ctx, w.ID, m1.ID, ev.ID, sys, 0, 0, 0)
	require.NoError(t, err)
	require.Equal(t, 0, blocked)
	require.Equal(t, []string{"lib", "other"}, []string{tasks[0].Package, tasks[1].Package})
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k1/lib", MinorWaveID: m1.ID, System: sys, Package: "lib",
		Drv: "/nix/store/lib.drv", Status: store.StatusFailed, ExitCode: 1}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k1/other", MinorWaveID: m1.ID, System: sys, Package: "other",
		Drv: "/nix/store/other.drv", Status: store.StatusPassed}))

	for layer, pkg := range []string{1: "app", 2: "tool"} {
		if pkg == "" {
			continue
		}
		tasks, blocked, err := st.TakeShard(ctx, w.ID, m1.ID, ev.ID, sys, 0, layer, 0)
		require.NoError(t, err)
		require.Empty(t, tasks, pkg)
		require.Equal(t, 1, blocked, pkg)
		r, err := st.Results(ctx, m1.ID, pkg)
		require.NoError(t, err)
		require.Equal(t, store.StatusDependencyFailed, r[0].Status, pkg)
		require.Equal(t, []string{"lib"}, r[0].BlockedBy, "%s is blocked by the root cause", pkg)
	}

	// A later minor wave of the same major wave rebuilds lib green: app is buildable there.
	m2, err := st.StartMinorWave(ctx, w.ID, 2, "wave-1-2", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m2.ID, sys, 0, []store.RoundRow{{Package: "lib"}, {Package: "app", Layer: 1}}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k2/lib", MinorWaveID: m2.ID, System: sys, Package: "lib",
		Drv: "/nix/store/lib.drv", Status: store.StatusPassed}))
	tasks, blocked, err = st.TakeShard(ctx, w.ID, m2.ID, ev.ID, sys, 0, 1, 0)
	require.NoError(t, err)
	require.Equal(t, 0, blocked)
	require.Len(t, tasks, 1)
	require.Equal(t, "app", tasks[0].Package)
}

// TestConcurrentBuildsRecordOnce has hundreds of builds start and finish at once, as no-op
// builders do: each call gets its own answer, a racing duplicate record is harmless, and an
// unknown package fails alone.
func TestConcurrentBuildsRecordOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys, n = "x86_64-linux", 300
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	pkgs := make([]graph.Package, n)
	rows := make([]store.RoundRow, n)
	for i := range pkgs {
		k := fmt.Sprintf("p%03d", i)
		pkgs[i] = graph.Package{Key: k, Name: k, Drv: "/nix/store/" + k + ".drv"}
		rows[i] = store.RoundRow{Package: k, Drv: pkgs[i].Drv}
	}
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, pkgs)
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, rows))

	var wg sync.WaitGroup
	errs := make([]error, n+1)
	for i := 0; i <= n; i++ {
		wg.Go(func() {
			k := fmt.Sprintf("p%03d", i)
			if i == n {
				k = "nosuch"
			}
			key := store.BuildRecord{Key: "k/" + k, MinorWaveID: m.ID, System: sys, Package: k}
			p, _, done, err := st.StartBuild(ctx, ev.ID, key)
			if err != nil {
				errs[i] = err
				return
			}
			if done || p.Drv != "/nix/store/"+k+".drv" {
				errs[i] = fmt.Errorf("%s: done %v, drv %q", k, done, p.Drv)
				return
			}
			rec := key
			rec.Drv, rec.Status, rec.Outputs = p.Drv, store.StatusPassed, []string{"/nix/store/out-" + k}
			times := 1
			if i%10 == 0 {
				times = 2 // a racing attempt records the same key
			}
			var inner sync.WaitGroup
			for range times {
				inner.Go(func() {
					if err := st.RecordBuild(ctx, rec); err != nil {
						errs[i] = err
					}
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	for i, err := range errs[:n] {
		require.NoError(t, err, i)
	}
	require.ErrorIs(t, errs[n], store.ErrNotFound)
	counts, err := st.MinorWaveCounts(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, n, counts.Passed)
	results, err := st.Results(ctx, m.ID, "")
	require.NoError(t, err)
	for _, r := range results {
		require.Equal(t, 1, r.Attempts, r.Package)
		require.Equal(t, "passed", r.Resolution, r.Package)
	}
	finished, err := st.FinishedBuilds(ctx)
	require.NoError(t, err)
	require.Equal(t, n, finished)
	_, rec, done, err := st.StartBuild(ctx, ev.ID, store.BuildRecord{Key: "k/p007", MinorWaveID: m.ID, System: sys, Package: "p007"})
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, []string{"/nix/store/out-p007"}, rec.Outputs)
}

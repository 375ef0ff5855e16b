package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// TestFrontierRecordsAndBlocksInOneTransaction follows a round through the frontier:
// recording a build makes its dependents ready in the same call, a failure marks its
// in-round dependents (transitively) dependency-failed with their root cause at once, and a
// take repeated with its token returns what it took.
func TestFrontierRecordsAndBlocksInOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	// lib ← mid ← app, and bad ← uses ← top; tiny needs nothing.
	pkgs := []graph.Package{
		{Key: "lib", Name: "lib", Drv: "/nix/store/lib.drv"},
		{Key: "mid", Name: "mid", Drv: "/nix/store/mid.drv", Deps: []string{"lib"}},
		{Key: "app", Name: "app", Drv: "/nix/store/app.drv", Deps: []string{"mid", "lib"}},
		{Key: "bad", Name: "bad", Drv: "/nix/store/bad.drv"},
		{Key: "uses", Name: "uses", Drv: "/nix/store/uses.drv", Deps: []string{"bad"}},
		{Key: "top", Name: "top", Drv: "/nix/store/top.drv", Deps: []string{"uses", "lib"}},
		{Key: "tiny", Name: "tiny", Drv: "/nix/store/tiny.drv"},
	}
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, pkgs)
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	var round []store.RoundRow
	for _, p := range pkgs {
		round = append(round, store.RoundRow{Package: p.Key, Drv: p.Drv})
	}
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, round))
	prio := map[string]float64{"lib": 30, "mid": 20, "app": 10, "bad": 25, "uses": 15, "top": 5, "tiny": 1}
	deps := map[string][]string{"mid": {"lib"}, "app": {"lib", "mid"}, "uses": {"bad"}, "top": {"lib", "uses"}}
	var rows []store.FrontierRow
	for _, p := range pkgs {
		r := store.FrontierRow{Package: p.Key, Priority: prio[p.Key], Deps: deps[p.Key]}
		for k, ds := range deps {
			for _, d := range ds {
				if d == p.Key {
					r.Dependents = append(r.Dependents, k)
				}
			}
		}
		rows = append(rows, r)
	}
	require.NoError(t, st.PutFrontier(ctx, m.ID, sys, 0, rows))
	require.NoError(t, st.PutFrontier(ctx, m.ID, sys, 0, nil), "a round written already is left as it is")

	take := func(token string, max int) store.FrontierTaken {
		t.Helper()
		got, err := st.TakeReady(ctx, store.FrontierTake{WaveID: w.ID, MinorWaveID: m.ID, EvaluationID: ev.ID, System: sys,
			Max: max, Token: token, Owner: "run"})
		require.NoError(t, err)
		return got
	}
	names := func(got store.FrontierTaken) []string {
		var out []string
		for _, t := range got.Tasks {
			out = append(out, t.Package)
		}
		return out
	}
	record := func(pkg, status string) {
		t.Helper()
		require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/" + pkg, MinorWaveID: m.ID, System: sys, Package: pkg,
			Drv: "/nix/store/" + pkg + ".drv", Status: status}))
	}
	state := func() map[string]store.FrontierState {
		t.Helper()
		fs, err := st.Frontier(ctx, m.ID, sys)
		require.NoError(t, err)
		out := map[string]store.FrontierState{}
		for _, f := range fs {
			out[f.Package] = f
		}
		return out
	}

	got := take("run/1", 2)
	require.Equal(t, []string{"lib", "bad"}, names(got), "ready packages, highest bottom level first")
	require.Equal(t, []string{"lib", "bad"}, names(take("run/1", 2)), "a repeated take returns what it took")
	require.Zero(t, got.Waiting, "counted only when a take finds nothing")
	require.Equal(t, []string{"tiny"}, names(take("run/2", 5)), "nothing else is ready")
	none := take("run/3", 5)
	require.Empty(t, none.Tasks)
	require.Equal(t, 4, none.Waiting, "pending, not taken: what waits for lib and bad")

	record("lib", store.StatusPassed)
	f := state()
	require.Equal(t, 0, f["mid"].Remaining, "recording lib frees mid at once")
	require.Equal(t, 1, f["app"].Remaining)
	require.Equal(t, 1, f["top"].Remaining)
	record("lib", store.StatusPassed) // a retried activity: counted once
	require.Equal(t, 1, state()["app"].Remaining)

	record("bad", store.StatusFailed)
	f = state()
	require.Equal(t, store.StatusDependencyFailed, f["uses"].Status, "bad's dependents are blocked when bad is recorded")
	require.Equal(t, []string{"bad"}, f["uses"].BlockedBy)
	require.Equal(t, store.StatusDependencyFailed, f["top"].Status, "transitively")
	require.Equal(t, []string{"bad"}, f["top"].BlockedBy, "with the root cause")
	rs, err := st.Results(ctx, m.ID, "top")
	require.NoError(t, err)
	require.Contains(t, rs[0].Reason, "blocked by root cause bad")

	got = take("run/3", 5)
	require.Equal(t, []string{"mid"}, names(got))
	record("mid", store.StatusTestFailed)
	require.Equal(t, []string{"app"}, names(take("run/4", 5)), "a test failure does not block dependents")
	record("tiny", store.StatusPassed)
	record("app", store.StatusPassed)
	got = take("run/5", 5)
	require.Empty(t, got.Tasks)
	require.Zero(t, got.Waiting)

	// A dispatcher started afresh takes back what its predecessor took and never finished.
	m2, err := st.StartMinorWave(ctx, w.ID, 2, "wave-1-2", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m2.ID, sys, 0, []store.RoundRow{{Package: "tiny", Drv: "/nix/store/tiny.drv"}}))
	require.NoError(t, st.PutFrontier(ctx, m2.ID, sys, 0, []store.FrontierRow{{Package: "tiny", Priority: 1}}))
	in := store.FrontierTake{WaveID: w.ID, MinorWaveID: m2.ID, EvaluationID: ev.ID, System: sys, Max: 5, Token: "old/1", Owner: "old"}
	got, err = st.TakeReady(ctx, in)
	require.NoError(t, err)
	require.Len(t, got.Tasks, 1)
	in.Token, in.Owner = "new/1", "new"
	got, err = st.TakeReady(ctx, in)
	require.NoError(t, err)
	require.Empty(t, got.Tasks)
	in.Reset = true
	got, err = st.TakeReady(ctx, in)
	require.NoError(t, err)
	require.Len(t, got.Tasks, 1)
}

// TestSlotsTakeEachPackageOnce: 16 build slots take from a round of 300 independent
// packages at once, each one package at a time, recording it before the next take: every
// package is taken by exactly one slot (SKIP LOCKED, not a race), a slot's repeated take
// returns what it has not recorded yet, a stopped generation takes nothing, and OpenSlots
// of the next generation gives back what a stopped one left taken.
func TestSlotsTakeEachPackageOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys, n = "x86_64-linux", 300
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	var pkgs []graph.Package
	var round []store.RoundRow
	var rows []store.FrontierRow
	for i := range n {
		k := fmt.Sprintf("p%03d", i)
		pkgs = append(pkgs, graph.Package{Key: k, Name: k, Drv: "/nix/store/" + k + ".drv"})
		round = append(round, store.RoundRow{Package: k, Drv: "/nix/store/" + k + ".drv"})
		rows = append(rows, store.FrontierRow{Package: k, Priority: float64(i % 7)})
	}
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, pkgs)
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, round))
	require.NoError(t, st.PutFrontier(ctx, m.ID, sys, 0, rows))
	slot := func(gen, i int) store.FrontierTake {
		return store.FrontierTake{WaveID: w.ID, MinorWaveID: m.ID, EvaluationID: ev.ID, System: sys, Max: 1,
			Token: fmt.Sprintf("run/g%d/s%d", gen, i), Owner: "run", Slotted: true, Generation: gen}
	}

	// Generation 0: one slot takes and keeps what it took; then the generation stops.
	first, err := st.TakeReady(ctx, slot(0, 99))
	require.NoError(t, err)
	require.Len(t, first.Tasks, 1)
	again, err := st.TakeReady(ctx, slot(0, 99))
	require.NoError(t, err)
	require.Equal(t, first.Tasks, again.Tasks, "a slot's take returns what it has not recorded yet")
	require.NoError(t, st.StopSlots(ctx, "run", 0))
	require.NoError(t, st.StopSlots(ctx, "run", 0), "idempotent")
	stopped, err := st.TakeReady(ctx, slot(0, 1))
	require.NoError(t, err)
	require.True(t, stopped.Stopped)
	require.Empty(t, stopped.Tasks)
	waiting, building, err := st.OpenSlots(ctx, m.ID, sys, 0, "run/g1", true)
	require.NoError(t, err)
	require.Equal(t, [2]int{n, 0}, [2]int{waiting, building}, "the stopped generation's take is given back")

	// Generation 1: 16 slots at once.
	var mu sync.Mutex
	takenBy := map[string][]int{}
	var g errgroup.Group
	for i := range 16 {
		g.Go(func() error {
			for {
				got, err := st.TakeReady(ctx, slot(1, i))
				if err != nil {
					return err
				}
				if len(got.Tasks) == 0 {
					if got.Waiting == 0 {
						return nil
					}
					continue // taken by a slot whose transaction has not committed yet
				}
				pkg := got.Tasks[0].Package
				mu.Lock()
				takenBy[pkg] = append(takenBy[pkg], i)
				mu.Unlock()
				if err := st.RecordBuild(ctx, store.BuildRecord{Key: "k/" + pkg, MinorWaveID: m.ID, System: sys, Package: pkg,
					Drv: "/nix/store/" + pkg + ".drv", Status: store.StatusPassed}); err != nil {
					return err
				}
			}
		})
	}
	require.NoError(t, g.Wait())
	require.Len(t, takenBy, n, "every package taken")
	for pkg, by := range takenBy {
		require.Len(t, by, 1, "%s taken by slots %v", pkg, by)
	}
	waiting, building, err = st.OpenSlots(ctx, m.ID, sys, 0, "run/g2", true)
	require.NoError(t, err)
	require.Equal(t, [2]int{0, 0}, [2]int{waiting, building}, "the round is final")
}

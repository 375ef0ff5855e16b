package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// progressWave drives a wave through the real writers of results: wave-1-1 lays out lib,
// app (needs lib) and calc; lib fails, app is blocked by it, calc passes; lib is resolved
// wont-fix (app follows); then lib is retried and passes. wave-1-2 lays out two packages
// and one passes.
func progressWave(t *testing.T, st *store.Store) (store.Wave, store.MinorWave, store.MinorWave) {
	t.Helper()
	ctx := context.Background()
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, []graph.Package{
		{Key: "lib", Name: "lib"}, {Key: "app", Name: "app", Deps: []string{"lib"}}, {Key: "calc", Name: "calc"},
		{Key: "x", Name: "x"}, {Key: "y", Name: "y"},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m1, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", json.RawMessage(`[{"package":"lib","ref":"r"}]`))
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m1.ID, sys, 0, []store.RoundRow{{Package: "lib"}, {Package: "calc"}, {Package: "app", Layer: 1}}))
	record := func(m store.MinorWave, key, pkg, status string) {
		t.Helper()
		require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: key, MinorWaveID: m.ID, System: sys, Package: pkg, Status: status}))
	}
	record(m1, "k1", "lib", store.StatusFailed)
	_, blocked, err := st.TakeShard(ctx, w.ID, m1.ID, ev.ID, sys, 0, 1, 0)
	require.NoError(t, err)
	require.Equal(t, 1, blocked)
	record(m1, "k2", "calc", store.StatusPassed)
	settled, err := st.Resolve(ctx, m1.ID, sys, "lib", "wont-fix", "alice: later")
	require.NoError(t, err)
	require.Equal(t, 1, settled)
	require.NoError(t, st.PutRound(ctx, m1.ID, sys, 1, []store.RoundRow{{Package: "lib"}}))
	record(m1, "k3", "lib", store.StatusPassed)
	// Changes that are neither status nor resolution record nothing.
	require.NoError(t, st.SetWaitingReason(ctx, m1.ID, sys, "app", "waiting"))

	m2, err := st.StartMinorWave(ctx, w.ID, 2, "wave-1-2", json.RawMessage(`[{"package":"x","ref":"r"}]`))
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m2.ID, sys, 0, []store.RoundRow{{Package: "x"}, {Package: "y"}}))
	record(m2, "k4", "x", store.StatusPassed)
	return w, m1, m2
}

func counts(ss []store.Sample) []int {
	out := []int{}
	for _, s := range ss {
		out = append(out, s.Count)
	}
	return out
}

// increasing: samples are in time order, one per moment.
func increasing(t *testing.T, ss []store.Sample) {
	t.Helper()
	for i := 1; i < len(ss); i++ {
		require.True(t, ss[i].At.After(ss[i-1].At), "sample %d at %s after %s", i, ss[i].At, ss[i-1].At)
	}
}

// TestBurndownIsRecorded: remaining builds go down as results are recorded and back up
// when a retry sends a package back to pending, per minor wave and summed over the wave.
func TestBurndownIsRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	w, m1, m2 := progressWave(t, st)

	b1, err := st.Burndown(ctx, m1.ID)
	require.NoError(t, err)
	require.Equal(t, []int{3, 2, 1, 0, 1, 0}, counts(b1), "laid out, lib failed, app blocked, calc passed, lib retried, lib passed")
	increasing(t, b1)
	b2, err := st.Burndown(ctx, m2.ID)
	require.NoError(t, err)
	require.Equal(t, []int{2, 1}, counts(b2))

	wb, err := st.WaveBurndown(ctx, w.ID)
	require.NoError(t, err)
	require.Len(t, wb.Minor, 2)
	require.Equal(t, "wave-1-1", wb.Minor[0].Name)
	require.Equal(t, b1, wb.Minor[0].Samples)
	require.Equal(t, b2, wb.Minor[1].Samples)
	require.Equal(t, []int{3, 2, 1, 0, 1, 0, 2, 1}, counts(wb.Total))
	increasing(t, wb.Total)

	none, err := st.Burndown(ctx, 999999)
	require.NoError(t, err)
	require.Empty(t, none)
}

// TestFailureTimelineIsRecorded: failures by kind as they were recorded, resolutions by
// kind as they were written (a dependent settled by following its root cause counts as
// dependency-failed), and the failures still open.
func TestFailureTimelineIsRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	w, _, _ := progressWave(t, st)

	ft, err := st.FailureTimeline(ctx, w.ID)
	require.NoError(t, err)
	names := func(ss []store.Series) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	require.Equal(t, []string{"failed", "dependency-failed"}, names(ft.Recorded))
	require.Equal(t, []int{1}, counts(ft.Recorded[0].Samples))
	require.Equal(t, []int{1}, counts(ft.Recorded[1].Samples))
	require.Equal(t, []string{"fixed", "wont-fix", "dependency-failed"}, names(ft.Settled))
	require.Equal(t, ft.Settled[1].Samples[0].At, ft.Settled[2].Samples[0].At, "app was settled with lib, in one transaction")
	require.True(t, ft.Settled[0].Samples[0].At.After(ft.Settled[1].Samples[0].At), "fixed after the retry")
	require.Equal(t, []int{1, 2, 0}, counts(ft.Open), "lib failed, app blocked, both settled")
	require.Equal(t, ft.Recorded[0].Samples[0].At, ft.Open[0].At)

	empty, err := st.FailureTimeline(ctx, 999999)
	require.NoError(t, err)
	require.Empty(t, empty.Recorded)
	require.Empty(t, empty.Open)
}

// TestWaveScheduleJoinsPlanAndRecord: a minor wave that started is matched with its
// plan's entry by the packages it updates; planned ones not started follow, numbered
// after the started ones.
func TestWaveScheduleJoinsPlanAndRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	w, _, _ := progressWave(t, st)

	sched, err := st.WaveSchedule(ctx, w)
	require.NoError(t, err)
	require.Len(t, sched, 2)
	require.False(t, sched[0].Planned, "no plan stored")
	require.False(t, sched[0].StartedAt.IsZero())

	// A re-plan after wave-1-1 kept it: the stored plan has x (started as wave-1-2) and z.
	plan := `{"schema":"crest.plan/v1","wave":1,"minor_waves":[
		{"id":"wave-1-1","updates":["x"],"builds":2,"start_seconds":0,"finish_seconds":600},
		{"id":"wave-1-2","updates":["z"],"builds":7,"start_seconds":600,"finish_seconds":1800.5}]}`
	require.NoError(t, st.SetWavePlan(ctx, w.ID, json.RawMessage(plan)))
	sched, err = st.WaveSchedule(ctx, w)
	require.NoError(t, err)
	require.Len(t, sched, 3)
	require.False(t, sched[0].Planned, "wave-1-1 is not in the latest plan")
	require.True(t, sched[1].Planned)
	require.Equal(t, "wave-1-2", sched[1].Name)
	require.Equal(t, 10*time.Minute, sched[1].PlannedFinish)
	require.Equal(t, 2, sched[1].PlannedBuilds)
	require.Equal(t, store.ScheduledMinor{Number: 3, Name: "wave-1-3", State: "planned", Planned: true,
		PlannedStart: 10 * time.Minute, PlannedFinish: 1800500 * time.Millisecond, PlannedBuilds: 7}, sched[2])
}

// TestProgressOfEarlierWavesIsBackfilled: minor waves recorded before result_changes
// existed get what their results still tell: all pending at their start, each settled at
// its last update.
func TestProgressOfEarlierWavesIsBackfilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.DSN(t, true)
	all, err := store.Migrations()
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	var pending []store.Migration
	for _, m := range all {
		if m.Version == 9 { // the others as they are today: the rows below are written by today's store
			pending = append(pending, m)
			continue
		}
		_, err := conn.Exec(ctx, m.SQL)
		require.NoError(t, err, "%04d", m.Version)
		_, err = conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
		require.NoError(t, err)
	}
	st, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	defer st.Close()
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, "s", 0, []store.RoundRow{{Package: "a"}, {Package: "b"}, {Package: "c"}}))
	for _, pkg := range []string{"a", "b"} {
		require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: pkg, MinorWaveID: m.ID, System: "s", Package: pkg, Status: store.StatusPassed}))
	}

	applied, err := st.Migrate(ctx)
	require.NoError(t, err)
	require.Len(t, applied, len(pending))
	b, err := st.Burndown(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, []int{3, 2, 1}, counts(b))
	require.True(t, b[0].At.Equal(m.StartedAt), "all pending from the minor wave's start")
}

// BenchmarkResultChanges measures what recording progress costs the writers of results:
// laying out a round of 50,000 packages, recording builds one by one, and a retry that
// sends every package back to pending, with the triggers of migration 0009 and without.
// Run: go test -run '^$' -bench BenchmarkResultChanges -benchtime 1x ./activities/store/
func BenchmarkResultChanges(b *testing.B) {
	for _, triggers := range []bool{true, false} {
		name := "triggers"
		if !triggers {
			name = "no-triggers"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			dsn := testenv.DSN(b, false)
			st, err := store.Open(ctx, dsn)
			require.NoError(b, err)
			defer st.Close()
			if !triggers {
				conn, err := pgx.Connect(ctx, dsn)
				require.NoError(b, err)
				_, err = conn.Exec(ctx, `ALTER TABLE package_results DISABLE TRIGGER package_results_inserted;
					ALTER TABLE package_results DISABLE TRIGGER package_results_updated`)
				require.NoError(b, err)
				require.NoError(b, conn.Close(ctx))
			}
			col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
			require.NoError(b, err)
			w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
			require.NoError(b, err)
			m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
			require.NoError(b, err)
			const n, builds = 50_000, 2_000
			rows := make([]store.RoundRow, n)
			for i := range rows {
				rows[i] = store.RoundRow{Package: fmt.Sprintf("p%05d", i)}
			}
			for range b.N {
				start := time.Now()
				require.NoError(b, st.PutRound(ctx, m.ID, "s", 0, rows))
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/round-of-50k")
				start = time.Now()
				for i := range builds {
					require.NoError(b, st.RecordBuild(ctx, store.BuildRecord{Key: fmt.Sprint(i), MinorWaveID: m.ID, System: "s",
						Package: rows[i].Package, Status: store.StatusFailed}))
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/builds, "µs/build-recorded")
				start = time.Now()
				require.NoError(b, st.PutRound(ctx, m.ID, "s", 1, rows))
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/retry-of-50k")
			}
		})
	}
}

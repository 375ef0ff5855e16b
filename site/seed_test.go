package site_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/graph"
)

// Seeded names the rows seed wrote.
const (
	seedIssueURL = "https://issues.example.org/demo/7"
	seedReason   = "waiting for its maintainers until 2031-01-08 12:00 UTC; then marked broken (grace period 7 days)"
)

// seedPlan is wave-1's plan: libcore, then libfail, then libextra (not started).
const seedPlan = `{"schema": "crest.plan/v1", "wave": 1, "minor_waves": [
	{"id": "wave-1-1", "updates": ["libcore"], "builds": 1, "start_seconds": 0, "finish_seconds": 60},
	{"id": "wave-1-2", "updates": ["libfail"], "builds": 3, "start_seconds": 60, "finish_seconds": 240},
	{"id": "wave-1-3", "updates": ["libextra"], "builds": 2, "start_seconds": 240, "finish_seconds": 360}]}`

// seed records, through the store, the demo collection's wave-1 (with seedPlan): wave-1-1
// built libcore green and is tagged; wave-1-2 has libfail failing (issue filed, waiting with
// a deadline), app dependency-failed because of it, calc green.
func seed(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "demo", Remote: "/srv/demo.git"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "c1c1c1c1c1c1c1c1", sys, []graph.Package{
		{Key: "libcore", Name: "libcore", Drv: "/nix/store/libcore.drv"},
		{Key: "libfail", Name: "libfail", Drv: "/nix/store/libfail.drv", Deps: []string{"libcore"}},
		{Key: "app", Name: "app", Drv: "/nix/store/app.drv", Deps: []string{"libfail", "libcore"}},
		{Key: "calc", Name: "calc", Drv: "/nix/store/calc.drv", Deps: []string{"libcore"}},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-1", Title: "libcore 2",
		BaseRef: "main", State: "running"})
	require.NoError(t, err)
	_, err = st.SetWaveBase(ctx, w.ID, "c0c0c0c0c0c0c0c0")
	require.NoError(t, err)
	require.NoError(t, st.SetWavePlan(ctx, w.ID, json.RawMessage(seedPlan)))

	m1, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", json.RawMessage(`[{"package":"libcore","ref":"update/libcore-2"}]`))
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m1.ID, sys, 0, []store.RoundRow{{Package: "libcore", Drv: "/nix/store/libcore.drv"}}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/wave-1-1/libcore", MinorWaveID: m1.ID, System: sys,
		Package: "libcore", Drv: "/nix/store/libcore.drv", Status: store.StatusPassed}))
	require.NoError(t, st.SetMinorWave(ctx, m1.ID, "tagging", "c1c1c1c1c1c1c1c1", ev.ID))
	require.NoError(t, st.FinishMinorWave(ctx, col, store.Tag{Name: "wave-1-1", Commit: "c1c1c1c1c1c1c1c1", MinorWaveID: m1.ID,
		Message: "wave-1-1: 1 package green", Summary: json.RawMessage(`{"passed":1}`)}))

	m2, err := st.StartMinorWave(ctx, w.ID, 2, "wave-1-2", json.RawMessage(`[{"package":"libfail","ref":"update/libfail-2"}]`))
	require.NoError(t, err)
	require.NoError(t, st.SetMinorWave(ctx, m2.ID, "building", "c1c1c1c1c1c1c1c1", ev.ID))
	require.NoError(t, st.PutRound(ctx, m2.ID, sys, 0, []store.RoundRow{
		{Package: "libfail", Drv: "/nix/store/libfail.drv"}, {Package: "calc", Drv: "/nix/store/calc.drv"},
		{Package: "app", Drv: "/nix/store/app.drv", Layer: 1}}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/wave-1-2/libfail", MinorWaveID: m2.ID, System: sys,
		Package: "libfail", Drv: "/nix/store/libfail.drv", Status: store.StatusFailed, ExitCode: 1,
		LogTail: "error: libfail.c:12: undefined reference to core_init"}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/wave-1-2/calc", MinorWaveID: m2.ID, System: sys,
		Package: "calc", Drv: "/nix/store/calc.drv", Status: store.StatusPassed}))
	_, blocked, err := st.TakeShard(ctx, w.ID, m2.ID, ev.ID, sys, 0, 1, 0)
	require.NoError(t, err)
	require.Equal(t, 1, blocked, "app is blocked by libfail")
	_, err = st.MarkNotified(ctx, m2.ID, sys, "libfail", seedIssueURL, "fp-libfail", time.Now())
	require.NoError(t, err)
	require.NoError(t, st.SetWaitingReason(ctx, m2.ID, sys, "libfail", seedReason))
	require.NoError(t, st.RecordState(ctx, store.StateChange{MinorWaveID: m2.ID, State: "waiting",
		Reason: "1 root cause unresolved: waiting for people (crest wave resolve)",
		Audit:  store.AuditEntry{Actor: "crest", Wave: "wave-1-2", Action: "waiting"}}))
	require.NoError(t, st.RecordState(ctx, store.StateChange{WaveID: w.ID, State: "running",
		Reason: "wave-1-2 waits for people", Audit: store.AuditEntry{Actor: "crest", Wave: "wave-1", Action: "running"}}))
	_, _, err = st.RecordRootCause(ctx, store.RootCauseRecord{Collection: "demo", Fingerprint: "fp-libfail", Package: "libfail",
		Tracker: store.LocalTracker, Title: "libfail fails to build in wave-1-2",
		Open: store.IssueEvent{Key: "demo/fp-libfail/wave-1-2/open", Event: "open", Major: 1, Minor: 2, Title: "libfail fails"}})
	require.NoError(t, err)
}

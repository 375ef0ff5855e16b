package policy_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

func TestQueueSettingsDefaults(t *testing.T) {
	t.Parallel()
	d := policy.DefaultQueueSettings()
	require.Equal(t, 500, d.ConsiderStaging)
	require.Equal(t, 1000, d.MassRebuild)
	require.Equal(t, policy.Duration(10*time.Hour), d.FastBuildBudget)
	require.Equal(t, []string{"security"}, d.PriorityLabels)
	require.Equal(t, policy.Duration(10*time.Minute), d.MaxWait)
	require.Equal(t, policy.WaveLaneBuild, d.WaveLane)
	e, err := policy.QueueSettings{}.Effective()
	require.NoError(t, err)
	require.Equal(t, d, e)

	var s policy.QueueSettings
	require.NoError(t, json.Unmarshal([]byte(`{"fast_build_budget": "1d", "max_wait": "90s", "parallelism": 3, "wave_lane": "hand-off"}`), &s))
	e, err = s.Effective()
	require.NoError(t, err)
	require.Equal(t, policy.WaveLaneHandOff, e.WaveLane)
	require.Equal(t, policy.Duration(24*time.Hour), e.FastBuildBudget)
	require.Equal(t, 3, e.Parallelism)
	require.Equal(t, 8, e.MaxBatches)
}

func TestQueueSettingsValidate(t *testing.T) {
	t.Parallel()
	_, err := policy.QueueSettings{
		ConsiderStaging: 2000, WindowMin: 10, WindowMax: 4, Parallelism: 1, MaxWait: -1,
		PriorityLabels: []string{" "}, WaveLane: "staging",
	}.Effective()
	require.Error(t, err)
	for _, want := range []string{
		"consider_staging 2000: must not exceed mass_rebuild (1000)",
		"window_min 10: must not exceed window_max (4)",
		"window_start 8: must be between window_min (10) and window_max (4)",
		"parallelism 1: must be at least 2",
		`max_wait "-1ns": must not be negative`,
		`priority_labels[0] " ": must name a label`,
		`wave_lane "staging": must be build or hand-off`,
	} {
		require.ErrorContains(t, err, want)
	}
}

func TestChooseLane(t *testing.T) {
	t.Parallel()
	h := 3600.0
	for _, c := range []struct {
		name   string
		change policy.Change
		lane   policy.Lane
		reason string
	}{
		{"a leaf", policy.Change{ID: "x", Rebuilds: 1, BuildSeconds: 600}, policy.LaneFast, "1 rebuild costing 0.2h of builds: under 500 rebuilds, within the fast-lane budget of 10h"},
		{"security beats size", policy.Change{ID: "x", Rebuilds: 5000, Labels: []string{"docs", "security"}}, policy.LanePriority, "labelled security: built alone ahead of the fast lane (5000 rebuilds)"},
		{"must stage", policy.Change{ID: "x", Rebuilds: 1000, BuildSeconds: h}, policy.LaneWave, "1000 rebuilds costing 1.0h of builds: a mass rebuild (at least 1000) goes through the wave lane"},
		{"consider staging, expensive", policy.Change{ID: "x", Rebuilds: 600, BuildSeconds: 11 * h}, policy.LaneWave, "over the fast-lane budget of 10h, so not a small change"},
		{"consider staging, cheap", policy.Change{ID: "x", Rebuilds: 600, BuildSeconds: 9 * h}, policy.LaneFast, "but within the fast-lane budget of 10h"},
		{"consider staging, unknown cost", policy.Change{ID: "x", Rebuilds: 500}, policy.LaneWave, "500 rebuilds of unknown cost"},
		{"many builds, few rebuilds", policy.Change{ID: "x", Rebuilds: 120, BuildSeconds: 100 * h}, policy.LaneWave, "120 rebuilds costing 100.0h of builds: over the fast-lane budget"},
		{"few builds, unknown cost", policy.Change{ID: "x", Rebuilds: 499}, policy.LaneFast, "499 rebuilds: under 500 rebuilds"},
	} {
		d, err := policy.ChooseLane(c.change, policy.QueueSettings{})
		require.NoError(t, err, c.name)
		require.Equal(t, c.lane, d.Lane, c.name)
		require.Contains(t, d.Reason, c.reason, c.name)
	}
	_, err := policy.ChooseLane(policy.Change{ID: "x", Rebuilds: -1}, policy.QueueSettings{})
	require.ErrorContains(t, err, "must not be negative")
	_, err = policy.ChooseLane(policy.Change{ID: "x"}, policy.QueueSettings{Parallelism: 1})
	require.ErrorContains(t, err, "parallelism")
}

func TestWindowAIMD(t *testing.T) {
	t.Parallel()
	s := policy.QueueSettings{WindowStart: 4, WindowMin: 2, WindowMax: 6}
	w := policy.NewWindow(s)
	require.Equal(t, 4, w.Size)
	var sizes []int
	for _, green := range []bool{true, true, true, false, false, false, true} {
		if green {
			w = w.Green(s)
		} else {
			w = w.Red(s)
		}
		sizes = append(sizes, w.Size)
	}
	require.Equal(t, []int{5, 6, 6, 3, 2, 2, 3}, sizes)
}

func TestCutBatch(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	q := func(id string, lane policy.Lane, minutes int) policy.Queued {
		return policy.Queued{ID: id, Lane: lane, Submitted: t0.Add(time.Duration(minutes) * time.Minute)}
	}
	s := policy.QueueSettings{}
	w := policy.Window{Size: 3}
	queue := []policy.Queued{q("a", policy.LaneFast, 0), q("m", policy.LaneWave, 1), q("b", policy.LaneFast, 2)}

	d := policy.CutBatch(queue, w, 0, t0.Add(5*time.Minute), s)
	require.Empty(t, d.Changes)
	require.Equal(t, t0.Add(10*time.Minute), d.Until)
	require.Contains(t, d.Reason, "2 of 3 changes for a full window")

	d = policy.CutBatch(queue, w, 0, t0.Add(10*time.Minute), s)
	require.Equal(t, []string{"a", "b"}, d.Changes)
	require.Equal(t, policy.LaneFast, d.Lane)
	require.Contains(t, d.Reason, "the oldest has waited 10m")

	full := append(slices.Clone(queue), q("c", policy.LaneFast, 3), q("d", policy.LaneFast, 4))
	d = policy.CutBatch(full, w, 0, t0.Add(4*time.Minute), s)
	require.Equal(t, []string{"a", "b", "c"}, d.Changes)

	d = policy.CutBatch(full, w, 8, t0.Add(time.Hour), s)
	require.Empty(t, d.Changes)
	require.Contains(t, d.Reason, "8 batches building")

	prio := append(slices.Clone(full), q("sec", policy.LanePriority, 30), q("sec2", policy.LanePriority, 31))
	d = policy.CutBatch(prio, w, 8, t0.Add(31*time.Minute), s)
	require.Equal(t, []string{"sec"}, d.Changes)
	require.Equal(t, policy.LanePriority, d.Lane)

	d = policy.CutBatch([]policy.Queued{q("m", policy.LaneWave, 0)}, w, 0, t0, s)
	require.Empty(t, d.Changes)
	require.True(t, d.Until.IsZero())
}

func TestCutWave(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	queue := []policy.Queued{
		{ID: "a", Lane: policy.LaneFast, Submitted: t0},
		{ID: "m1", Lane: policy.LaneWave, Submitted: t0.Add(time.Hour)},
		{ID: "m2", Lane: policy.LaneWave, Submitted: t0.Add(2 * time.Hour)},
	}
	d := policy.CutWave(queue, false, t0.Add(3*time.Hour), policy.QueueSettings{})
	require.Empty(t, d.Changes)
	require.Equal(t, t0.Add(7*time.Hour), d.Until)
	d = policy.CutWave(queue, true, t0.Add(8*time.Hour), policy.QueueSettings{})
	require.Empty(t, d.Changes)
	d = policy.CutWave(queue, false, t0.Add(7*time.Hour), policy.QueueSettings{})
	require.Equal(t, []string{"m1", "m2"}, d.Changes)
	require.Equal(t, policy.LaneWave, d.Lane)
}

// TestQueueProperties runs the batching and bisection policy over random traffic against a
// model of builds (each change rebuilds some packages; a breaking change fails one of
// them) and checks what the queue promises: every breaking change is ejected, no good
// change is, and the branch only ever moves to a candidate whose every package built.
func TestQueueProperties(t *testing.T) {
	t.Parallel()
	pkgs := make([]string, 30)
	for i := range pkgs {
		pkgs[i] = fmt.Sprintf("p%02d", i)
	}
	s := policy.QueueSettings{WindowStart: 4, WindowMax: 12, MaxBatches: 1}
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		type change struct {
			id       string
			rebuilds []string
			breaks   string
		}
		byID := map[string]change{}
		var arrivals []change
		for i := 0; i < 60; i++ {
			c := change{id: fmt.Sprintf("c%02d", i)}
			start := rng.IntN(len(pkgs))
			c.rebuilds = pkgs[start:min(len(pkgs), start+1+rng.IntN(4))]
			if rng.Float64() < 0.2 {
				c.breaks = c.rebuilds[rng.IntN(len(c.rebuilds))]
			}
			byID[c.id] = c
			arrivals = append(arrivals, c)
		}
		// failures at head+changes: the packages broken by the changes among those rebuilt.
		build := func(ids []string, only []string) []string {
			var failed []string
			for _, id := range ids {
				c := byID[id]
				if c.breaks != "" && (only == nil || slices.Contains(only, c.breaks)) {
					failed = append(failed, c.breaks)
				}
			}
			slices.Sort(failed)
			return slices.Compact(failed)
		}

		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := t0
		var queue []policy.Queued
		var head []string // merged changes
		ejected := map[string]bool{}
		w := policy.NewWindow(s)
		next := 0
		for steps := 0; steps < 10000 && (next < len(arrivals) || len(queue) > 0); steps++ {
			now = now.Add(5 * time.Minute)
			for k := 0; k < 3 && next < len(arrivals); k++ {
				queue = append(queue, policy.Queued{ID: arrivals[next].id, Lane: policy.LaneFast, Submitted: now})
				next++
			}
			d := policy.CutBatch(queue, w, 0, now, s)
			if len(d.Changes) == 0 {
				continue
			}
			require.LessOrEqual(t, len(d.Changes), w.Size)
			require.Equal(t, queue[0].ID, d.Changes[0], "a batch starts at the head of the queue")
			queue = queue[len(d.Changes):]
			failed := build(d.Changes, nil)
			if len(failed) == 0 {
				// The candidate built green: the branch moves to exactly it.
				head = append(head, d.Changes...)
				require.Empty(t, build(head, nil), "seed %d: the head is a green commit", seed)
				w = w.Green(s)
				continue
			}
			w = w.Red(s)
			b, err := policy.NewBisection(d.Changes, failed, 2+rng.IntN(4))
			require.NoError(t, err)
			v := runBisection(t, b, func(p policy.Probe) []string { return build(d.Changes[:p.Prefix], p.Packages) }, rng)
			require.NotEmpty(t, v.Culprit, "seed %d: a failed batch has a culprit", seed)
			require.NotEmpty(t, byID[v.Culprit].breaks, "seed %d: %s is good but was ejected", seed, v.Culprit)
			ejected[v.Culprit] = true
			var front []policy.Queued
			for _, id := range v.Requeue {
				front = append(front, policy.Queued{ID: id, Lane: policy.LaneFast, Submitted: now})
			}
			queue = append(front, queue...)
		}
		require.Empty(t, queue, "seed %d: the queue drains", seed)
		for _, c := range arrivals {
			require.NotEqual(t, c.breaks != "", slices.Contains(head, c.id), "seed %d: %s", seed, c.id)
			require.Equal(t, c.breaks != "", ejected[c.id], "seed %d: %s", seed, c.id)
		}
	}
}

func TestBuildPriority(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, policy.BuildPriority(policy.LanePriority, false), "security fixes first")
	require.Equal(t, 3, policy.BuildPriority(policy.LaneFast, false))
	require.Equal(t, 3, policy.BuildPriority(policy.LaneWave, false), "a wave-lane unit's second stage")
	require.Equal(t, 5, policy.BuildPriority(policy.LaneWave, true), "built aside: last")
}

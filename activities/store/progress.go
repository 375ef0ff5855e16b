package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/policy"
)

// This file reads a wave's progress over time for its pictures: the burndown of remaining
// builds, the timeline of failures and resolutions, and the schedule of its minor waves.
// Progress is recorded by triggers on package_results into result_changes (migration
// 0009): per statement, the net change of the number of results in each (status,
// resolution).

// Sample is a count that holds from At until the next sample.
type Sample struct {
	At    time.Time `json:"at"`
	Count int       `json:"count"`
}

// Series is a named count over time.
type Series struct {
	Name    string   `json:"name"`
	Samples []Sample `json:"samples"`
}

// pendingChange is a change of one minor wave's pending results at one time.
type pendingChange struct {
	minorWaveID int64
	at          time.Time
	delta       int
}

// pendingChanges reads the changes of pending results of the minor waves where selects
// (over minor_waves m), in time order.
func (s *Store) pendingChanges(ctx context.Context, where string, arg int64) ([]pendingChange, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.minor_wave_id, c.at, sum(c.packages)::int
		FROM result_changes c JOIN minor_waves m ON m.id = c.minor_wave_id
		WHERE `+where+` AND c.status = 'pending'
		GROUP BY c.minor_wave_id, c.at HAVING sum(c.packages) <> 0 ORDER BY c.at, c.minor_wave_id`, arg)
	if err != nil {
		return nil, err
	}
	var out []pendingChange
	var c pendingChange
	_, err = pgx.ForEachRow(rows, []any{&c.minorWaveID, &c.at, &c.delta}, func() error {
		out = append(out, c)
		return nil
	})
	return out, err
}

// appendSample adds a running count at t, or replaces the last one when it is at t too.
func appendSample(ss []Sample, t time.Time, n int) []Sample {
	if k := len(ss); k > 0 && ss[k-1].At.Equal(t) {
		ss[k-1].Count = n
		return ss
	}
	return append(ss, Sample{At: t, Count: n})
}

// Burndown returns a minor wave's remaining builds (results still pending) over time: a
// sample each time the count changed, going up when a round is laid out or a retry sends
// packages back to pending. Empty before anything is recorded.
func (s *Store) Burndown(ctx context.Context, minorWaveID int64) ([]Sample, error) {
	changes, err := s.pendingChanges(ctx, "m.id = $1", minorWaveID)
	if err != nil {
		return nil, fmt.Errorf("burndown of minor wave %d: %w", minorWaveID, err)
	}
	var out []Sample
	n := 0
	for _, c := range changes {
		n += c.delta
		out = appendSample(out, c.at, n)
	}
	return out, nil
}

// MinorBurndown is one minor wave's remaining builds over time.
type MinorBurndown struct {
	MinorWave
	Samples []Sample
}

// WaveBurndown is a major wave's remaining builds over time: per minor wave, and their sum.
type WaveBurndown struct {
	Minor []MinorBurndown // every minor wave in order, with or without samples
	Total []Sample
}

// WaveBurndown returns the remaining builds of a major wave's minor waves over time, and
// their sum: the builds of the minor waves started so far that are not done yet.
func (s *Store) WaveBurndown(ctx context.Context, waveID int64) (WaveBurndown, error) {
	var out WaveBurndown
	minors, err := s.MinorWaves(ctx, waveID)
	if err != nil {
		return out, err
	}
	changes, err := s.pendingChanges(ctx, "m.wave_id = $1", waveID)
	if err != nil {
		return out, fmt.Errorf("burndown of wave %d: %w", waveID, err)
	}
	index := map[int64]int{}
	for i, m := range minors {
		index[m.ID] = i
		out.Minor = append(out.Minor, MinorBurndown{MinorWave: m})
	}
	counts := make([]int, len(minors))
	total := 0
	for _, c := range changes {
		i, ok := index[c.minorWaveID]
		if !ok {
			continue // a minor wave started since MinorWaves read them
		}
		counts[i] += c.delta
		total += c.delta
		out.Minor[i].Samples = appendSample(out.Minor[i].Samples, c.at, counts[i])
		out.Total = appendSample(out.Total, c.at, total)
	}
	return out, nil
}

// FailureTimeline is how a major wave's failures came and were settled, as running totals
// over time.
type FailureTimeline struct {
	// Recorded are the failures recorded so far, one series per status (failed,
	// test-failed, dependency-failed), in that order; a package that fails again after a
	// retry counts again.
	Recorded []Series
	// Settled are the resolutions written so far, one series per resolution (fixed,
	// wont-fix, cant-fix, marked-broken, dependency-failed: the root causes' resolutions a
	// dependency-failed package follows are not told apart).
	Settled []Series
	// Open is how many failures had no resolution at each time.
	Open []Sample
}

var (
	failureStatuses = []string{StatusFailed, StatusTestFailed, StatusDependencyFailed}
	settledOrder    = []policy.Resolution{policy.ResolutionFixed, policy.ResolutionWontFix, policy.ResolutionCantFix,
		policy.ResolutionMarkedBroken, policy.ResolutionDependencyFailed}
)

// FailureTimeline returns a major wave's failures and resolutions over time. It reads net
// changes per transaction: a status that gained results there had that many failures
// recorded, a resolution that gained results had that many settled. (A transaction that
// both sent some failed packages back to pending and recorded other failures would count
// only the difference; the writers never do both.)
func (s *Store) FailureTimeline(ctx context.Context, waveID int64) (FailureTimeline, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.at, c.status, c.resolution, sum(c.packages)::int
		FROM result_changes c JOIN minor_waves m ON m.id = c.minor_wave_id
		WHERE m.wave_id = $1 AND c.status <> 'pending'
		GROUP BY 1, 2, 3 HAVING sum(c.packages) <> 0 ORDER BY 1, 2, 3`, waveID)
	if err != nil {
		return FailureTimeline{}, fmt.Errorf("failures of wave %d: %w", waveID, err)
	}
	type change struct {
		at                 time.Time
		status, resolution string
		n                  int
	}
	changes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (change, error) {
		var c change
		return c, r.Scan(&c.at, &c.status, &c.resolution, &c.n)
	})
	if err != nil {
		return FailureTimeline{}, fmt.Errorf("failures of wave %d: %w", waveID, err)
	}
	recorded, settled := map[string][]Sample{}, map[string][]Sample{}
	recordedN, settledN := map[string]int{}, map[string]int{}
	var open []Sample
	openN := 0
	for i := 0; i < len(changes); {
		at := changes[i].at
		byStatus, byResolution := map[string]int{}, map[string]int{}
		openDelta := 0
		for ; i < len(changes) && changes[i].at.Equal(at); i++ {
			c := changes[i]
			if slices.Contains(failureStatuses, c.status) {
				byStatus[c.status] += c.n
				if c.resolution == "" {
					openDelta += c.n
				}
			}
			// Passed with resolution fixed is a failure settled by a retry.
			if c.resolution != "" && c.resolution != string(policy.ResolutionPassed) {
				byResolution[string(policy.Resolution(c.resolution).Base())] += c.n
			}
		}
		for _, st := range failureStatuses {
			if byStatus[st] > 0 {
				recordedN[st] += byStatus[st]
				recorded[st] = append(recorded[st], Sample{At: at, Count: recordedN[st]})
			}
		}
		for _, kind := range slices.Sorted(maps.Keys(byResolution)) {
			if byResolution[kind] > 0 {
				settledN[kind] += byResolution[kind]
				settled[kind] = append(settled[kind], Sample{At: at, Count: settledN[kind]})
			}
		}
		if openDelta != 0 {
			openN += openDelta
			open = append(open, Sample{At: at, Count: openN})
		}
	}
	out := FailureTimeline{Open: open}
	for _, st := range failureStatuses {
		if len(recorded[st]) > 0 {
			out.Recorded = append(out.Recorded, Series{Name: st, Samples: recorded[st]})
		}
	}
	kinds := slices.Collect(maps.Keys(settled))
	rank := func(k string) int {
		if i := slices.Index(settledOrder, policy.Resolution(k)); i >= 0 {
			return i
		}
		return len(settledOrder)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if ri, rj := rank(kinds[i]), rank(kinds[j]); ri != rj {
			return ri < rj
		}
		return kinds[i] < kinds[j]
	})
	for _, k := range kinds {
		out.Settled = append(out.Settled, Series{Name: k, Samples: settled[k]})
	}
	return out, nil
}

// ScheduledMinor is a minor wave as its major wave's plan has it and as it ran.
type ScheduledMinor struct {
	Number int
	Name   string
	// Planned says the wave's stored plan has this minor wave; PlannedStart and
	// PlannedFinish are then its estimated start and finish as offsets from the start of
	// the plan, and PlannedBuilds its builds.
	Planned                     bool
	PlannedStart, PlannedFinish time.Duration
	PlannedBuilds               int
	// StartedAt is zero for a minor wave planned and not started yet; FinishedAt is nil
	// while it runs.
	StartedAt  time.Time
	FinishedAt *time.Time
	State      string
}

// WaveSchedule returns a major wave's minor waves in order, planned and started alike:
// the ones that started with their start and finish, the ones its stored plan has with
// their estimated offsets. A plan and a started minor wave are the same minor wave when
// they update the same packages (a re-plan numbers its waves after those kept, and only
// the latest plan is stored); planned waves not started yet are numbered after them.
func (s *Store) WaveSchedule(ctx context.Context, w Wave) ([]ScheduledMinor, error) {
	minors, err := s.MinorWaves(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	// Only the fields the schedule needs: a plan lists every package each minor wave
	// rebuilds, megabytes for a wave of Nixpkgs.
	var raw []byte
	if err := s.pool.QueryRow(ctx, `
		SELECT coalesce(jsonb_agg(jsonb_build_object('updates', e->'updates', 'builds', e->'builds',
			'start_seconds', e->'start_seconds', 'finish_seconds', e->'finish_seconds') ORDER BY i), '[]')
		FROM waves w, jsonb_array_elements(coalesce(w.plan->'minor_waves', '[]')) WITH ORDINALITY AS t(e, i)
		WHERE w.id = $1`, w.ID).Scan(&raw); err != nil {
		return nil, fmt.Errorf("plan of %s: %w", w.Name(), err)
	}
	var plan []struct {
		Updates       []string `json:"updates"`
		Builds        int      `json:"builds"`
		StartSeconds  float64  `json:"start_seconds"`
		FinishSeconds float64  `json:"finish_seconds"`
	}
	if err := json.Unmarshal(raw, &plan); err != nil {
		return nil, fmt.Errorf("plan of %s: %w", w.Name(), err)
	}
	out := make([]ScheduledMinor, 0, len(minors)+len(plan))
	byUpdates := map[string]int{} // a started minor wave's updates → its index in out
	last := 0
	for _, m := range minors {
		var ups []struct {
			Package string `json:"package"`
		}
		_ = json.Unmarshal(m.Updates, &ups) // a minor wave without readable updates matches no plan
		keys := make([]string, len(ups))
		for i, u := range ups {
			keys[i] = u.Package
		}
		if k := updatesKey(keys); k != "" {
			byUpdates[k] = len(out)
		}
		out = append(out, ScheduledMinor{Number: m.Number, Name: m.Name, StartedAt: m.StartedAt, FinishedAt: m.FinishedAt, State: m.State})
		last = max(last, m.Number)
	}
	next := last
	for _, pm := range plan {
		i, ok := byUpdates[updatesKey(pm.Updates)]
		if !ok {
			next++
			out = append(out, ScheduledMinor{Number: next, Name: wavename.Minor(w.TagPrefix, w.Number, next), State: "planned"})
			i = len(out) - 1
		}
		sm := &out[i]
		sm.Planned, sm.PlannedBuilds = true, pm.Builds
		sm.PlannedStart = seconds(pm.StartSeconds)
		sm.PlannedFinish = seconds(max(pm.FinishSeconds, pm.StartSeconds))
	}
	return out, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// updatesKey identifies a set of updated packages, in any order.
func updatesKey(keys []string) string {
	k := slices.Clone(keys)
	slices.Sort(k)
	return strings.Join(k, "\x00")
}

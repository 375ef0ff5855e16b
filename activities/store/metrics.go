package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// BuildDurationBuckets are the upper bounds, in seconds, of the build duration histogram
// of MetricsSnapshot: from a cached no-op to a whole-day toolchain build.
var BuildDurationBuckets = []float64{1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}

// MetricsSnapshot is Crest's state as Prometheus metrics see it, read in one go.
type MetricsSnapshot struct {
	// Builds counts finished builds by system and result (passed, failed, test-failed).
	Builds map[[2]string]int
	// Running counts builds in progress by system: what builders are busy with.
	Running map[string]int
	// Durations are finished builds' durations by system.
	Durations map[string]DurationHistogram
	// Slots are the live build slots of the builders of each system (store.BuilderFresh).
	Slots map[string]int
	// Pending counts packages waiting to be built, by system (the ready queue and what
	// waits behind it).
	Pending map[string]int
	// Waves counts major waves by state, MinorWaves minor waves by state.
	Waves      map[string]int
	MinorWaves map[string]int
	// OutboxPending counts issue events not yet written to the tracker; OutboxOldest is
	// when the oldest of them was recorded (zero when none).
	OutboxPending int
	OutboxOldest  time.Time
}

// DurationHistogram is a cumulative histogram over BuildDurationBuckets.
type DurationHistogram struct {
	Count   uint64
	Sum     float64
	Buckets []uint64 // Buckets[i] counts durations ≤ BuildDurationBuckets[i]
}

// Metrics reads the snapshot. Every query is an aggregate over indexed or small tables.
func (s *Store) Metrics(ctx context.Context) (MetricsSnapshot, error) {
	m := MetricsSnapshot{Builds: map[[2]string]int{}, Running: map[string]int{}, Durations: map[string]DurationHistogram{},
		Pending: map[string]int{}, Slots: map[string]int{}, Waves: map[string]int{}, MinorWaves: map[string]int{}}
	var system, status string
	var n int
	rows, err := s.pool.Query(ctx, `SELECT system, status, count(*)::int FROM builds GROUP BY system, status`)
	if err != nil {
		return m, fmt.Errorf("metrics: builds: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&system, &status, &n}, func() error {
		if status == "running" {
			m.Running[system] = n
		} else {
			m.Builds[[2]string{system, status}] = n
		}
		return nil
	}); err != nil {
		return m, fmt.Errorf("metrics: builds: %w", err)
	}

	rows, err = s.pool.Query(ctx, `
		WITH d AS (SELECT system, extract(epoch FROM finished_at - started_at)::float8 AS d
		           FROM builds WHERE finished_at IS NOT NULL)
		SELECT system, -1::float8, count(*), coalesce(sum(d), 0) FROM d GROUP BY system
		UNION ALL
		SELECT system, bound, count(*) FILTER (WHERE d <= bound), 0 FROM d CROSS JOIN unnest($1::float8[]) AS bound
		GROUP BY system, bound
		ORDER BY 1, 2`, BuildDurationBuckets)
	if err != nil {
		return m, fmt.Errorf("metrics: durations: %w", err)
	}
	var bound, sum float64
	var count int64
	if _, err := pgx.ForEachRow(rows, []any{&system, &bound, &count, &sum}, func() error {
		h := m.Durations[system]
		if bound < 0 { // the first row of a system: its count and sum
			h = DurationHistogram{Count: uint64(count), Sum: sum, Buckets: make([]uint64, len(BuildDurationBuckets))}
		} else if i := slices.Index(BuildDurationBuckets, bound); i >= 0 && h.Buckets != nil {
			h.Buckets[i] = uint64(count)
		}
		m.Durations[system] = h
		return nil
	}); err != nil {
		return m, fmt.Errorf("metrics: durations: %w", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT system, count(*)::int FROM package_results WHERE status = 'pending' GROUP BY system`)
	if err != nil {
		return m, fmt.Errorf("metrics: pending: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&system, &n}, func() error {
		m.Pending[system] = n
		return nil
	}); err != nil {
		return m, fmt.Errorf("metrics: pending: %w", err)
	}

	for _, q := range []struct {
		what, sql string
		args      []any
		to        map[string]int
	}{
		{"waves", `SELECT state, count(*)::int FROM waves WHERE number > 0 GROUP BY state`, nil, m.Waves},
		{"waves", `SELECT state, count(*)::int FROM minor_waves GROUP BY state`, nil, m.MinorWaves},
		{"builders", `SELECT system, sum(slots)::int FROM builders WHERE seen_at > now() - make_interval(secs => $1)
			GROUP BY system`, []any{BuilderFresh.Seconds()}, m.Slots},
	} {
		rows, err := s.pool.Query(ctx, q.sql, q.args...)
		if err != nil {
			return m, fmt.Errorf("metrics: %s: %w", q.what, err)
		}
		if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
			q.to[status] = n
			return nil
		}); err != nil {
			return m, fmt.Errorf("metrics: %s: %w", q.what, err)
		}
	}

	var oldest *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT count(*)::int, min(created_at) FROM issue_events WHERE state = 'pending'`).
		Scan(&m.OutboxPending, &oldest); err != nil {
		return m, fmt.Errorf("metrics: issue outbox: %w", err)
	}
	if oldest != nil {
		m.OutboxOldest = *oldest
	}
	return m, nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/activities/wavename"
)

// This file holds the read-only queries of the status site (site/): overviews that would
// otherwise take one query per minor wave, and a package's "excuses" across waves.

// WaveOverview is a major wave with the tallies of all its minor waves.
type WaveOverview struct {
	Wave
	MinorWaves int
	Counts     Counts
}

// WaveOverviews lists the waves of a collection (all collections when empty), newest first,
// each with its packages tallied over its minor waves.
func (s *Store) WaveOverviews(ctx context.Context, collection string) ([]WaveOverview, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+waveColumns+`,
			(SELECT count(*) FROM minor_waves m WHERE m.wave_id = w.id)::int,
			`+countColumns+`
		FROM waves w JOIN collections c ON c.id = w.collection_id
		LEFT JOIN minor_waves m ON m.wave_id = w.id
		LEFT JOIN package_results pr ON pr.minor_wave_id = m.id
		WHERE ($1 = '' OR c.name = $1) AND w.number > 0
		GROUP BY w.id, c.id
		ORDER BY c.name, w.number DESC`, collection)
	if err != nil {
		return nil, fmt.Errorf("wave overviews: %w", err)
	}
	defer rows.Close()
	var out []WaveOverview
	for rows.Next() {
		var o WaveOverview
		w := &o.Wave
		c := &o.Counts
		if err := rows.Scan(append(waveFields(w), &o.MinorWaves,
			&c.Total, &c.Pending, &c.Passed, &c.Failed, &c.TestFailed, &c.DependencyFailed, &c.Resolved, &c.Unresolved)...); err != nil {
			return nil, fmt.Errorf("wave overviews: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("wave overviews: %w", err)
	}
	return out, nil
}

// countColumns tallies package_results rows aliased pr, as Counts in its field order.
const countColumns = `count(pr.package)::int,
	count(*) FILTER (WHERE pr.status = 'pending')::int,
	count(*) FILTER (WHERE pr.status = 'passed')::int,
	count(*) FILTER (WHERE pr.status = 'failed')::int,
	count(*) FILTER (WHERE pr.status = 'test-failed')::int,
	count(*) FILTER (WHERE pr.status = 'dependency-failed')::int,
	count(*) FILTER (WHERE pr.status NOT IN ('pending', 'passed') AND pr.resolution <> '')::int,
	count(*) FILTER (WHERE pr.status NOT IN ('pending', 'passed') AND pr.resolution = '')::int`

// MinorOverview is a minor wave with its tallies and its tag, once tagged.
type MinorOverview struct {
	MinorWave
	Counts Counts
	Tag    string
}

// MinorOverviews lists a wave's minor waves in order, each with its tallies and tag.
func (s *Store) MinorOverviews(ctx context.Context, waveID int64) ([]MinorOverview, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT m.id, m.wave_id, m.number, m.name, m.state, m.reason, m.updates, coalesce(m.evaluation_id, 0), m.commit,
			m.summary, m.started_at, m.finished_at,
			coalesce((SELECT t.name FROM tags t WHERE t.minor_wave_id = m.id ORDER BY t.created_at LIMIT 1), ''),
			`+countColumns+`
		FROM minor_waves m LEFT JOIN package_results pr ON pr.minor_wave_id = m.id
		WHERE m.wave_id = $1 GROUP BY m.id ORDER BY m.number`, waveID)
	if err != nil {
		return nil, fmt.Errorf("minor wave overviews: %w", err)
	}
	defer rows.Close()
	var out []MinorOverview
	for rows.Next() {
		var o MinorOverview
		m := &o.MinorWave
		c := &o.Counts
		if err := rows.Scan(&m.ID, &m.WaveID, &m.Number, &m.Name, &m.State, &m.Reason, &m.Updates, &m.EvaluationID,
			&m.Commit, &m.Summary, &m.StartedAt, &m.FinishedAt, &o.Tag,
			&c.Total, &c.Pending, &c.Passed, &c.Failed, &c.TestFailed, &c.DependencyFailed, &c.Resolved, &c.Unresolved); err != nil {
			return nil, fmt.Errorf("minor wave overviews: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("minor wave overviews: %w", err)
	}
	return out, nil
}

// Excuse says where one package stands in one minor wave on one system, and why it is not
// green: Debian britney's "excuses", one per (minor wave, system).
type Excuse struct {
	Collection string
	Wave       string // <prefix>-N, with the collection's tag prefix
	MinorWave  string // <prefix>-N-M, as the minor wave was named
	MinorState string
	PackageResult
	Issue      string     // where people answer (URL or local#N); empty before one is filed
	NotifiedAt *time.Time // when its maintainers were told
	// Blockers are the root causes a dependency-failed package waits for.
	Blockers []Blocker
}

// Blocker is a root cause that blocks a package, with where it stands.
type Blocker struct {
	Package    string
	Status     string
	Resolution string
	Reason     string
	Issue      string
}

// Excuses lists a package's results in every minor wave of a collection, newest first, with
// the root causes that block it. Empty when no wave rebuilt it.
func (s *Store) Excuses(ctx context.Context, collection, pkg string) ([]Excuse, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.name, `+tagPrefixColumn+`, w.number, m.name, m.state,
			r.system, r.package, r.drv, r.round, r.layer, r.status, r.resolution, r.reason, r.blocked_by, r.attempts,
			r.log_tail, r.updated_at, r.last_error, r.issue, r.notified_at, m.id
		FROM package_results r JOIN minor_waves m ON m.id = r.minor_wave_id
		JOIN waves w ON w.id = m.wave_id JOIN collections c ON c.id = w.collection_id
		WHERE c.name = $1 AND r.package = $2
		ORDER BY w.number DESC, m.number DESC, r.system`, collection, pkg)
	if err != nil {
		return nil, fmt.Errorf("excuses of %s: %w", pkg, err)
	}
	var out []Excuse
	var minorIDs []int64
	var e Excuse
	var minorID int64
	var prefix string
	var number int
	r := &e.PackageResult
	_, err = pgx.ForEachRow(rows, []any{&e.Collection, &prefix, &number, &e.MinorWave, &e.MinorState,
		&r.System, &r.Package, &r.Drv, &r.Round, &r.Layer, &r.Status, &r.Resolution, &r.Reason, &r.BlockedBy, &r.Attempts,
		&r.LogTail, &r.UpdatedAt, &r.LastError, &e.Issue, &e.NotifiedAt, &minorID}, func() error {
		e.Wave = wavename.Major(prefix, number)
		out = append(out, e)
		minorIDs = append(minorIDs, minorID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("excuses of %s: %w", pkg, err)
	}
	for i := range out {
		if len(out[i].BlockedBy) == 0 {
			continue
		}
		if out[i].Blockers, err = s.blockers(ctx, minorIDs[i], out[i].System, out[i].BlockedBy); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// blockers looks up the root causes named in a package's blocked_by. A root cause from an
// earlier minor wave of the same major wave is found there (the newest one that built it).
func (s *Store) blockers(ctx context.Context, minorWaveID int64, system string, pkgs []string) ([]Blocker, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (b.package) b.package, b.status, b.resolution, b.reason, b.issue
		FROM minor_waves m
		JOIN minor_waves o ON o.wave_id = m.wave_id AND o.number <= m.number
		JOIN package_results b ON b.minor_wave_id = o.id AND b.system = $2 AND b.package = ANY($3)
		WHERE m.id = $1
		ORDER BY b.package, o.number DESC`, minorWaveID, system, pkgs)
	if err != nil {
		return nil, fmt.Errorf("blockers: %w", err)
	}
	var out []Blocker
	var b Blocker
	_, err = pgx.ForEachRow(rows, []any{&b.Package, &b.Status, &b.Resolution, &b.Reason, &b.Issue}, func() error {
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blockers: %w", err)
	}
	return out, nil
}

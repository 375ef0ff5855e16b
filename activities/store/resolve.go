package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PackageResult is where one package of a minor wave stands.
type PackageResult struct {
	System     string    `json:"system"`
	Package    string    `json:"package"`
	Drv        string    `json:"drv"`
	Round      int       `json:"round"`
	Layer      int       `json:"layer"`
	Status     string    `json:"status"`
	Resolution string    `json:"resolution,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	BlockedBy  []string  `json:"blocked_by,omitempty"`
	Attempts   int       `json:"attempts"`
	LogTail    string    `json:"log_tail,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
	// LastError is why a pending build is being retried ("attempt 4: nix-store …").
	LastError string `json:"last_error,omitempty"`
	// Protected: in the build closure of a protected root (policy never settles it
	// implicitly).
	Protected bool `json:"protected,omitempty"`
}

// Results lists a minor wave's packages (one package when pkg is set), by package.
func (s *Store) Results(ctx context.Context, minorWaveID int64, pkg string) ([]PackageResult, error) {
	return s.results(ctx, `minor_wave_id = $1 AND ($2 = '' OR package = $2)`, minorWaveID, pkg)
}

// ResultsFor lists the results of the named packages of a minor wave on one system ("" for
// every system), by package: what a check of one person's request needs, without reading a
// 100,000-package minor wave.
func (s *Store) ResultsFor(ctx context.Context, minorWaveID int64, system string, pkgs []string) ([]PackageResult, error) {
	return s.results(ctx, `minor_wave_id = $1 AND ($2 = '' OR system = $2) AND package = ANY($3)`, minorWaveID, system, pkgs)
}

func (s *Store) results(ctx context.Context, where string, args ...any) ([]PackageResult, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT system, package, drv, round, layer, status, resolution, reason, blocked_by, attempts, log_tail, updated_at, last_error, protected
		FROM package_results WHERE `+where+` ORDER BY package, system`, args...)
	if err != nil {
		return nil, fmt.Errorf("results of minor wave %v: %w", args[0], err)
	}
	var out []PackageResult
	var r PackageResult
	_, err = pgx.ForEachRow(rows, []any{&r.System, &r.Package, &r.Drv, &r.Round, &r.Layer, &r.Status, &r.Resolution, &r.Reason, &r.BlockedBy, &r.Attempts, &r.LogTail, &r.UpdatedAt, &r.LastError, &r.Protected}, func() error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("results of minor wave %v: %w", args[0], err)
	}
	return out, nil
}

// Counts tallies a minor wave's packages by status, and how many failures are resolved.
type Counts struct {
	Total            int `json:"total"`
	Pending          int `json:"pending"`
	Passed           int `json:"passed"`
	Failed           int `json:"failed"`
	TestFailed       int `json:"test_failed"`
	DependencyFailed int `json:"dependency_failed"`
	Resolved         int `json:"resolved"`   // failures settled by a resolution
	Unresolved       int `json:"unresolved"` // failures still waiting
}

// MinorWaveCounts tallies a minor wave.
func (s *Store) MinorWaveCounts(ctx context.Context, minorWaveID int64) (Counts, error) {
	var c Counts
	err := s.pool.QueryRow(ctx, `
		SELECT count(*),
			count(*) FILTER (WHERE status = 'pending'),
			count(*) FILTER (WHERE status = 'passed'),
			count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE status = 'test-failed'),
			count(*) FILTER (WHERE status = 'dependency-failed'),
			count(*) FILTER (WHERE status NOT IN ('pending', 'passed') AND resolution <> ''),
			count(*) FILTER (WHERE status NOT IN ('pending', 'passed') AND resolution = '')
		FROM package_results WHERE minor_wave_id = $1`, minorWaveID).
		Scan(&c.Total, &c.Pending, &c.Passed, &c.Failed, &c.TestFailed, &c.DependencyFailed, &c.Resolved, &c.Unresolved)
	if err != nil {
		return c, fmt.Errorf("count minor wave %d: %w", minorWaveID, err)
	}
	return c, nil
}

// RootCause is a failed package whose dependencies all built, with what it blocks.
type RootCause struct {
	System     string   `json:"system"`
	Package    string   `json:"package"`
	Drv        string   `json:"drv"`
	Status     string   `json:"status"` // failed or test-failed (passed once fixed)
	Resolution string   `json:"resolution,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Attempts   int      `json:"attempts"`
	LogTail    string   `json:"log_tail,omitempty"`
	Dependents []string `json:"dependents,omitempty"` // dependency-failed because of it, sorted
	// Fingerprint is that of the failure its issue is about (empty before one is filed).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Issue is where people answer about it (URL or local#N; empty before one is filed).
	Issue string `json:"issue,omitempty"`
}

// RootCauses lists a minor wave's root causes with the dependents each blocks, including
// those since fixed (status passed, resolution fixed).
func (s *Store) RootCauses(ctx context.Context, minorWaveID int64) ([]RootCause, error) {
	// The dependents are grouped by root cause in one pass over the dependency-failed
	// packages: a subquery per root cause made 3,000 root causes of 85,000 dependents a
	// quarter of a billion array probes (minutes at 100,000 packages).
	rows, err := s.pool.Query(ctx, `
		WITH blocked AS (
			SELECT d.system, b.root, array_agg(d.package ORDER BY d.package) AS dependents
			FROM package_results d, unnest(d.blocked_by) AS b(root)
			WHERE d.minor_wave_id = $1 AND d.status = 'dependency-failed'
			GROUP BY d.system, b.root
		)
		SELECT r.system, r.package, r.drv, r.status, r.resolution, r.reason, r.attempts, r.log_tail, r.fingerprint, r.issue,
			coalesce(blocked.dependents, '{}')
		FROM package_results r LEFT JOIN blocked ON blocked.system = r.system AND blocked.root = r.package
		WHERE r.minor_wave_id = $1 AND (r.status IN ('failed', 'test-failed') OR r.resolution = 'fixed')
		ORDER BY r.package, r.system`, minorWaveID)
	if err != nil {
		return nil, fmt.Errorf("root causes of minor wave %d: %w", minorWaveID, err)
	}
	var out []RootCause
	var rc RootCause
	_, err = pgx.ForEachRow(rows, []any{&rc.System, &rc.Package, &rc.Drv, &rc.Status, &rc.Resolution, &rc.Reason, &rc.Attempts, &rc.LogTail, &rc.Fingerprint, &rc.Issue, &rc.Dependents}, func() error {
		out = append(out, rc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("root causes of minor wave %d: %w", minorWaveID, err)
	}
	return out, nil
}

// LockedIn lists the packages a major wave already settled for system in minor waves other
// than exclude: they are not rebuilt again in this major wave.
func (s *Store) LockedIn(ctx context.Context, waveID int64, system string, exclude int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT r.package FROM package_results r JOIN minor_waves m ON m.id = r.minor_wave_id
		WHERE m.wave_id = $1 AND r.system = $2 AND m.id <> $3 ORDER BY 1`, waveID, system, exclude)
	if err != nil {
		return nil, fmt.Errorf("locked-in packages: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("locked-in packages: %w", err)
	}
	return keys, nil
}

// SetWaitingReason explains why an unresolved failure waits (a policy decision).
func (s *Store) SetWaitingReason(ctx context.Context, minorWaveID int64, system, pkg, reason string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE package_results SET reason = $4, updated_at = now()
		WHERE minor_wave_id = $1 AND system = $2 AND package = $3 AND resolution = ''`, minorWaveID, system, pkg, reason)
	if err != nil {
		return fmt.Errorf("set reason of %s: %w", pkg, err)
	}
	return nil
}

// MarkNotified records, once per failed attempt, when a root cause's maintainers were told
// and where (its issue); it returns the recorded time, the first one written.
func (s *Store) MarkNotified(ctx context.Context, minorWaveID int64, system, pkg, issue, fingerprint string, at time.Time) (time.Time, error) {
	var notified time.Time
	err := s.pool.QueryRow(ctx, `
		UPDATE package_results SET notified_at = coalesce(notified_at, $4), issue = $5, fingerprint = $6, updated_at = now()
		WHERE minor_wave_id = $1 AND system = $2 AND package = $3 RETURNING notified_at`,
		minorWaveID, system, pkg, at, issue, fingerprint).Scan(&notified)
	if err != nil {
		return time.Time{}, notFound(err, "result of "+pkg)
	}
	return notified, nil
}

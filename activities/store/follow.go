package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/policy"
)

// Resolve settles a failed package of a minor wave with resolution and reason, and then
// whatever policy.Follow settles after it (dependency-failed packages whose root causes
// are now all settled without a fix; never protected ones), in one transaction. It
// returns how many dependents it settled. Resolving again with the same values changes
// nothing. Whether a person may resolve the package is policy's to say before this
// (ValidateResolve); the store only saves.
func (s *Store) Resolve(ctx context.Context, minorWaveID int64, system, pkg, resolution, reason string) (int, error) {
	var settled int
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE package_results SET resolution = $4, reason = $5, updated_at = now()
			WHERE minor_wave_id = $1 AND system = $2 AND package = $3 AND status IN ('failed', 'test-failed', 'dependency-failed')`,
			minorWaveID, system, pkg, resolution, reason)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s has not failed in this minor wave: %w", pkg, ErrNotFound)
		}
		rows, err := tx.Query(ctx, `
			SELECT package FROM package_results
			WHERE minor_wave_id = $1 AND system = $2 AND status = 'dependency-failed' AND resolution = '' AND blocked_by @> ARRAY[$3]`,
			minorWaveID, system, pkg)
		if err != nil {
			return err
		}
		dependents, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		settled, err = follow(ctx, tx, minorWaveID, system, dependents)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("resolve %s as %s: %w", pkg, resolution, err)
	}
	return settled, nil
}

// follow applies policy.Follow to the named dependency-failed packages of a minor wave and
// saves what it decides: those whose root causes were all settled without a fix are
// settled after them, with policy's resolution ("dependency-failed/wont-fix") and reason.
// Root causes are looked up in this minor wave, or else in the latest earlier minor wave
// of the major wave that has them (a package may be blocked by a failure locked in there).
// It returns how many packages it settled.
func follow(ctx context.Context, tx pgx.Tx, minorWaveID int64, system string, pkgs []string) (int, error) {
	if len(pkgs) == 0 {
		return 0, nil
	}
	states, err := statesWhere(ctx, tx, `r.minor_wave_id = $1 AND r.system = $2 AND r.package = ANY($3)
		AND r.status = 'dependency-failed' AND r.resolution = ''`, minorWaveID, system, pkgs)
	if err != nil {
		return 0, err
	}
	roots, err := rootStates(ctx, tx, minorWaveID, system, states)
	if err != nil {
		return 0, err
	}
	settled := 0
	for _, d := range policy.Follow(append(states, roots...)) {
		if d.Action != policy.ActionResolve || !slices.Contains(pkgs, d.Package) {
			continue
		}
		tag, err := tx.Exec(ctx, `
			UPDATE package_results SET resolution = $4, reason = $5, updated_at = now()
			WHERE minor_wave_id = $1 AND system = $2 AND package = $3 AND resolution = ''`,
			minorWaveID, system, d.Package, string(d.Resolution), d.Reason)
		if err != nil {
			return 0, err
		}
		settled += int(tag.RowsAffected())
	}
	return settled, nil
}

// States returns what policy's rules need to judge a minor wave on one system: every
// package's state, and the states of root causes its packages name that were recorded in
// an earlier minor wave of the major wave (the latest of each).
func (s *Store) States(ctx context.Context, minorWaveID int64, system string) ([]policy.State, error) {
	var out []policy.State
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		states, err := statesWhere(ctx, tx, `r.minor_wave_id = $1 AND r.system = $2`, minorWaveID, system)
		if err != nil {
			return err
		}
		roots, err := rootStates(ctx, tx, minorWaveID, system, states)
		out = append(states, roots...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("states of minor wave %d on %s: %w", minorWaveID, system, err)
	}
	return out, nil
}

// rootStates returns the states of the root causes states name that states do not hold:
// from this minor wave, or else from the latest earlier minor wave of its major wave.
func rootStates(ctx context.Context, tx pgx.Tx, minorWaveID int64, system string, states []policy.State) ([]policy.State, error) {
	have := make(map[string]bool, len(states))
	for _, st := range states {
		have[st.Package] = true
	}
	var names []string
	for _, st := range states {
		for _, r := range st.BlockedBy {
			if !have[r] {
				have[r] = true
				names = append(names, r)
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	return statesWhere(ctx, tx, `r.system = $2 AND r.package = ANY($3)
		AND r.minor_wave_id IN (SELECT id FROM minor_waves WHERE wave_id = (SELECT wave_id FROM minor_waves WHERE id = $1))`,
		minorWaveID, system, names)
}

// statesWhere reads package states as policy sees them, one per package (this minor
// wave's row first, else the latest minor wave's), in key order. The arguments are
// always (minor wave, system, packages…).
func statesWhere(ctx context.Context, tx pgx.Tx, where string, args ...any) ([]policy.State, error) {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT ON (r.package) r.package, r.status, r.resolution, r.blocked_by, r.protected
		FROM package_results r JOIN minor_waves m ON m.id = r.minor_wave_id
		WHERE `+where+`
		ORDER BY r.package, (r.minor_wave_id = $1) DESC, m.number DESC`, args...)
	if err != nil {
		return nil, err
	}
	var out []policy.State
	var st policy.State
	var status, resolution string
	_, err = pgx.ForEachRow(rows, []any{&st.Package, &status, &resolution, &st.BlockedBy, &st.Protected}, func() error {
		st.Status, st.Resolution = policy.Status(status), policy.Resolution(resolution)
		st.BlockedBy = slices.Clone(st.BlockedBy)
		out = append(out, st)
		return nil
	})
	return out, err
}

// Systems lists the systems a minor wave builds for, in order.
func (s *Store) Systems(ctx context.Context, minorWaveID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT system FROM package_results WHERE minor_wave_id = $1 ORDER BY 1`, minorWaveID)
	if err != nil {
		return nil, fmt.Errorf("systems of minor wave %d: %w", minorWaveID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("systems of minor wave %d: %w", minorWaveID, err)
	}
	return out, nil
}

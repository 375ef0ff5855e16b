package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Kinds of build round (BuildRoundSpec.Kind): what a build round holds builds for, stored
// as its waves row's state.
const (
	// BuildRoundQueue is a merge queue build: a batch's candidate commit or one probe.
	BuildRoundQueue = "queue-build"
	// BuildRoundPatch is a security patch's rebuild of a covered tag.
	BuildRoundPatch = "patch-build"
)

// BuildRound is the holder of one set of builds outside a wave (a queue build, a patch's
// rebuild) in the build engine's tables: a waves row with a negative number and its one
// minor_waves row (see migrations 0007 and 0010). The engine is keyed by minor wave; one
// holder per set of builds keeps them apart, since its gates look across the minor waves of
// one wave.
type BuildRound struct {
	WaveID      int64
	MinorWaveID int64
}

// BuildRoundSpec names a build round to open.
type BuildRoundSpec struct {
	Collection string
	// Key is a workflow-made idempotency key, unique across every kind (it is the holder's
	// workflow_id): the same key gets the same round back.
	Key  string
	Name string // for people: the batch, probe or security tag it builds
	Kind string // BuildRoundQueue or BuildRoundPatch
	// Commit and EvaluationID are what the round builds.
	Commit       string
	EvaluationID int64
}

// OpenBuildRound returns the build round named spec.Key, creating it in one transaction.
// Its number comes from queue_build_numbers, negated, so that it never collides with a
// major wave's and is left out of wave listings and number allocation.
func (s *Store) OpenBuildRound(ctx context.Context, spec BuildRoundSpec) (BuildRound, error) {
	var r BuildRound
	if spec.Kind != BuildRoundQueue && spec.Kind != BuildRoundPatch {
		return r, fmt.Errorf("build round %s: unknown kind %q", spec.Key, spec.Kind)
	}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT w.id, m.id FROM waves w JOIN minor_waves m ON m.wave_id = w.id WHERE w.workflow_id = $1`, spec.Key).
			Scan(&r.WaveID, &r.MinorWaveID)
		if err == nil {
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO waves (collection_id, number, workflow_id, title, base_ref, base_commit, branch, state, input)
			SELECT c.id, -nextval('queue_build_numbers'), $2, $3, $4, $4, '', $5, '{}' FROM collections c WHERE c.name = $1
			RETURNING id`, spec.Collection, spec.Key, spec.Name, spec.Commit, spec.Kind).Scan(&r.WaveID); err != nil {
			return notFound(err, "collection "+spec.Collection)
		}
		return tx.QueryRow(ctx, `
			INSERT INTO minor_waves (wave_id, number, name, state, evaluation_id, commit) VALUES ($1, 1, $2, 'building', nullif($3::bigint, 0), $4)
			RETURNING id`, r.WaveID, spec.Name, spec.EvaluationID, spec.Commit).Scan(&r.MinorWaveID)
	})
	if err != nil {
		return r, fmt.Errorf("build round %s: %w", spec.Key, err)
	}
	return r, nil
}

// FailedPackage is a package a build round did not build, with its log tail.
type FailedPackage struct {
	Package   string   `json:"package"`
	Status    string   `json:"status"`
	BlockedBy []string `json:"blocked_by,omitempty"`
	LogTail   string   `json:"log_tail,omitempty"`
}

// RoundFailures lists the packages of a build round that failed, failed tests or were
// blocked by a failed dependency, by package.
func (s *Store) RoundFailures(ctx context.Context, minorWaveID int64, system string) ([]FailedPackage, error) {
	o, err := s.RoundOutcomeOf(ctx, minorWaveID, system)
	return o.Failures, err
}

// RoundOutcome is where every package of a build round stands.
type RoundOutcome struct {
	Passed   []string
	Failures []FailedPackage
	// Unbuilt lists the packages still pending: the round was stopped before them.
	Unbuilt []string
}

// Green reports whether every package of the round passed (an empty round is green).
func (o RoundOutcome) Green() bool { return len(o.Failures) == 0 && len(o.Unbuilt) == 0 }

// RoundOutcomeOf reads where every package of a build round stands, by package.
func (s *Store) RoundOutcomeOf(ctx context.Context, minorWaveID int64, system string) (RoundOutcome, error) {
	var out RoundOutcome
	rows, err := s.pool.Query(ctx, `
		SELECT package, status, blocked_by, log_tail FROM package_results
		WHERE minor_wave_id = $1 AND system = $2 ORDER BY package`, minorWaveID, system)
	if err != nil {
		return out, fmt.Errorf("outcome of round %d: %w", minorWaveID, err)
	}
	var f FailedPackage
	_, err = pgx.ForEachRow(rows, []any{&f.Package, &f.Status, &f.BlockedBy, &f.LogTail}, func() error {
		switch f.Status {
		case StatusPassed:
			out.Passed = append(out.Passed, f.Package)
		case StatusPending:
			out.Unbuilt = append(out.Unbuilt, f.Package)
		default:
			f.BlockedBy = append([]string(nil), f.BlockedBy...)
			out.Failures = append(out.Failures, f)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("outcome of round %d: %w", minorWaveID, err)
	}
	return out, nil
}

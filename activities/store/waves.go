package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/activities/wavename"
)

// Wave is a major wave's row.
type Wave struct {
	ID           int64
	CollectionID int64
	Collection   string
	Number       int
	WorkflowID   string
	Title        string
	BaseRef      string
	BaseCommit   string
	Branch       string
	State        string
	Reason       string // why it is in State, and what a person may do
	Input        json.RawMessage
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// TagPrefix is the collection's tag prefix as its settings have it ("" for the default).
	TagPrefix string
}

// Name is the wave's name with its collection's tag prefix: "wave-3".
func (w Wave) Name() string { return wavename.Major(w.TagPrefix, w.Number) }

// CreateWave registers a major wave for workflowID, allocating the next number of the
// collection when number is 0. It is idempotent: the same workflow ID gets its wave back.
// A requested number already taken by another workflow is an error naming both.
func (s *Store) CreateWave(ctx context.Context, w Wave) (Wave, error) {
	if existing, err := s.WaveByWorkflow(ctx, w.WorkflowID); err == nil {
		return existing, nil
	} else if !errors.Is(err, ErrNotFound) {
		return w, err
	}
	if len(w.Input) == 0 {
		w.Input = json.RawMessage("{}")
	}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		// Serialize number allocation per collection.
		if err := tx.QueryRow(ctx, `SELECT `+tagPrefixColumn+` FROM collections c WHERE c.id = $1 FOR UPDATE`, w.CollectionID).
			Scan(&w.TagPrefix); err != nil {
			return err
		}
		if w.Number == 0 {
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(number), 0) + 1 FROM waves WHERE collection_id = $1 AND number > 0`, w.CollectionID).Scan(&w.Number); err != nil {
				return err
			}
		} else {
			var owner string
			err := tx.QueryRow(ctx, `SELECT workflow_id FROM waves WHERE collection_id = $1 AND number = $2`, w.CollectionID, w.Number).Scan(&owner)
			if err == nil {
				return fmt.Errorf("wave %d of this collection belongs to workflow %s: %w", w.Number, owner, ErrTaken)
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if w.Branch == "" {
			w.Branch = w.Name()
		}
		return tx.QueryRow(ctx, `
			INSERT INTO waves (collection_id, number, workflow_id, title, base_ref, branch, state, input)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, created_at, updated_at`,
			w.CollectionID, w.Number, w.WorkflowID, w.Title, w.BaseRef, w.Branch, w.State, w.Input).
			Scan(&w.ID, &w.CreatedAt, &w.UpdatedAt)
	})
	if err != nil {
		return w, fmt.Errorf("create wave for %s: %w", w.WorkflowID, err)
	}
	return w, nil
}

// tagPrefixColumn is the tag prefix in the settings of the collection aliased c, as
// activities.Collection writes them ("" when unset: wavename applies the default).
const tagPrefixColumn = `coalesce(c.settings->>'tag_prefix', '')`

const waveColumns = `w.id, w.collection_id, c.name, w.number, w.workflow_id, w.title, w.base_ref, w.base_commit, w.branch, w.state, w.reason, w.input, w.created_at, w.updated_at, ` + tagPrefixColumn

// waveFields are the scan targets of waveColumns.
func waveFields(w *Wave) []any {
	return []any{&w.ID, &w.CollectionID, &w.Collection, &w.Number, &w.WorkflowID, &w.Title, &w.BaseRef, &w.BaseCommit,
		&w.Branch, &w.State, &w.Reason, &w.Input, &w.CreatedAt, &w.UpdatedAt, &w.TagPrefix}
}

func scanWave(row pgx.Row) (Wave, error) {
	var w Wave
	err := row.Scan(waveFields(&w)...)
	return w, err
}

// TagPrefix returns the tag prefix of a collection, with the default applied: what its
// waves, tags and branches are named with. ErrNotFound for an unknown collection.
func (s *Store) TagPrefix(ctx context.Context, collection string) (string, error) {
	var prefix string
	err := s.pool.QueryRow(ctx, `SELECT `+tagPrefixColumn+` FROM collections c WHERE c.name = $1`, collection).Scan(&prefix)
	if err != nil {
		return "", notFound(err, "collection "+collection)
	}
	return wavename.Prefix(prefix), nil
}

// WaveByWorkflow finds the wave a workflow runs.
func (s *Store) WaveByWorkflow(ctx context.Context, workflowID string) (Wave, error) {
	w, err := scanWave(s.pool.QueryRow(ctx, `SELECT `+waveColumns+` FROM waves w JOIN collections c ON c.id = w.collection_id WHERE w.workflow_id = $1`, workflowID))
	if err != nil {
		return w, notFound(err, "wave of workflow "+workflowID)
	}
	return w, nil
}

// WaveByNumber finds wave N of a collection.
func (s *Store) WaveByNumber(ctx context.Context, collection string, number int) (Wave, error) {
	w, err := scanWave(s.pool.QueryRow(ctx, `SELECT `+waveColumns+` FROM waves w JOIN collections c ON c.id = w.collection_id WHERE c.name = $1 AND w.number = $2`, collection, number))
	if err != nil {
		prefix, _ := s.TagPrefix(ctx, collection) // the default when the collection is unknown too
		return w, notFound(err, wavename.Major(prefix, number)+" of "+collection)
	}
	return w, nil
}

// Waves lists the waves of a collection (all collections when empty), newest first.
func (s *Store) Waves(ctx context.Context, collection string) ([]Wave, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+waveColumns+` FROM waves w JOIN collections c ON c.id = w.collection_id
		WHERE ($1 = '' OR c.name = $1) AND w.number > 0 -- queue builds have negative numbers
		ORDER BY c.name, w.number DESC`, collection)
	if err != nil {
		return nil, fmt.Errorf("list waves: %w", err)
	}
	defer rows.Close()
	var out []Wave
	for rows.Next() {
		w, err := scanWave(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// StateChange is a wave's or a minor wave's new state with its reason, and the audit
// entry that records it.
type StateChange struct {
	WaveID      int64 // 0: no major wave changes
	MinorWaveID int64 // 0: no minor wave changes
	State       string
	Reason      string
	Audit       AuditEntry
}

// RecordState applies a state change and its audit entry in one transaction.
func (s *Store) RecordState(ctx context.Context, c StateChange) error {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if c.WaveID != 0 {
			if _, err := tx.Exec(ctx, `UPDATE waves SET state = $2, reason = $3, updated_at = now() WHERE id = $1`,
				c.WaveID, c.State, c.Reason); err != nil {
				return err
			}
		}
		if c.MinorWaveID != 0 {
			if _, err := tx.Exec(ctx, `
				UPDATE minor_waves SET state = $2, reason = $3,
					finished_at = CASE WHEN $2 IN ('done', 'cancelled') THEN coalesce(finished_at, now()) ELSE finished_at END
				WHERE id = $1`, c.MinorWaveID, c.State, c.Reason); err != nil {
				return err
			}
		}
		return recordAudit(ctx, tx, c.Audit)
	})
	if err != nil {
		return fmt.Errorf("record state %s: %w", c.State, err)
	}
	return nil
}

// SetWaveBase records the commit a wave started from, once: later calls return the first.
func (s *Store) SetWaveBase(ctx context.Context, waveID int64, commit string) (string, error) {
	var base string
	err := s.pool.QueryRow(ctx, `
		UPDATE waves SET base_commit = CASE WHEN base_commit = '' THEN $2 ELSE base_commit END, updated_at = now()
		WHERE id = $1 RETURNING base_commit`, waveID, commit).Scan(&base)
	if err != nil {
		return "", notFound(err, fmt.Sprintf("wave %d", waveID))
	}
	return base, nil
}

// SetWavePlan stores the plan a major wave follows.
func (s *Store) SetWavePlan(ctx context.Context, waveID int64, plan json.RawMessage) error {
	if _, err := s.pool.Exec(ctx, `UPDATE waves SET plan = $2, updated_at = now() WHERE id = $1`, waveID, plan); err != nil {
		return fmt.Errorf("set wave %d plan: %w", waveID, err)
	}
	return nil
}

// WavePlan returns the stored plan (nil before planning).
func (s *Store) WavePlan(ctx context.Context, waveID int64) (json.RawMessage, error) {
	var plan json.RawMessage
	if err := s.pool.QueryRow(ctx, `SELECT plan FROM waves WHERE id = $1`, waveID).Scan(&plan); err != nil {
		return nil, notFound(err, fmt.Sprintf("wave %d", waveID))
	}
	return plan, nil
}

// MinorWave is a minor wave's row.
type MinorWave struct {
	ID           int64
	WaveID       int64
	Number       int
	Name         string
	State        string
	Reason       string // why it is in State, and what a person may do
	Updates      json.RawMessage
	EvaluationID int64
	Commit       string
	Summary      json.RawMessage
	StartedAt    time.Time
	FinishedAt   *time.Time
}

// StartMinorWave registers minor wave number of a wave (idempotent) and returns its row.
func (s *Store) StartMinorWave(ctx context.Context, waveID int64, number int, name string, updates json.RawMessage) (MinorWave, error) {
	if len(updates) == 0 {
		updates = json.RawMessage("[]")
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO minor_waves (wave_id, number, name, state, updates) VALUES ($1, $2, $3, 'merging', $4)
		ON CONFLICT (wave_id, number) DO NOTHING`, waveID, number, name, updates)
	if err != nil {
		return MinorWave{}, fmt.Errorf("start minor wave %s: %w", name, err)
	}
	return s.MinorWaveByNumber(ctx, waveID, number)
}

const minorColumns = `id, wave_id, number, name, state, reason, updates, coalesce(evaluation_id, 0), commit, summary, started_at, finished_at`

func scanMinor(row pgx.Row) (MinorWave, error) {
	var m MinorWave
	err := row.Scan(&m.ID, &m.WaveID, &m.Number, &m.Name, &m.State, &m.Reason, &m.Updates, &m.EvaluationID, &m.Commit, &m.Summary, &m.StartedAt, &m.FinishedAt)
	return m, err
}

// MinorWaveByNumber returns minor wave number of a wave.
func (s *Store) MinorWaveByNumber(ctx context.Context, waveID int64, number int) (MinorWave, error) {
	m, err := scanMinor(s.pool.QueryRow(ctx, `SELECT `+minorColumns+` FROM minor_waves WHERE wave_id = $1 AND number = $2`, waveID, number))
	if err != nil {
		return m, notFound(err, fmt.Sprintf("minor wave %d of wave %d", number, waveID))
	}
	return m, nil
}

// MinorWaves lists a wave's minor waves in order.
func (s *Store) MinorWaves(ctx context.Context, waveID int64) ([]MinorWave, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+minorColumns+` FROM minor_waves WHERE wave_id = $1 ORDER BY number`, waveID)
	if err != nil {
		return nil, fmt.Errorf("list minor waves: %w", err)
	}
	defer rows.Close()
	var out []MinorWave
	for rows.Next() {
		m, err := scanMinor(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetMinorWave records a minor wave's state and, when not zero, its commit and evaluation.
func (s *Store) SetMinorWave(ctx context.Context, id int64, state, commit string, evaluationID int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE minor_waves SET state = $2,
			commit = CASE WHEN $3 = '' THEN commit ELSE $3 END,
			evaluation_id = CASE WHEN $4 = 0 THEN evaluation_id ELSE $4 END,
			finished_at = CASE WHEN $2 IN ('done', 'cancelled') THEN coalesce(finished_at, now()) ELSE finished_at END
		WHERE id = $1`, id, state, commit, evaluationID)
	if err != nil {
		return fmt.Errorf("set minor wave %d: %w", id, err)
	}
	return nil
}

// NextWaveNumber is the number the next major wave of a collection gets.
func (s *Store) NextWaveNumber(ctx context.Context, collection string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(max(w.number), 0) + 1 FROM collections c LEFT JOIN waves w ON w.collection_id = c.id AND w.number > 0
		WHERE c.name = $1 GROUP BY c.id`, collection).Scan(&n)
	if err != nil {
		return 0, notFound(err, "collection "+collection)
	}
	return n, nil
}

// Collections lists registered collection names.
func (s *Store) Collections(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM collections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

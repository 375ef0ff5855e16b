package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tag is a pinned, all-green minor wave.
type Tag struct {
	Collection  string          `json:"collection"`
	Name        string          `json:"name"`
	Commit      string          `json:"commit"`
	MinorWaveID int64           `json:"minor_wave_id"`
	Message     string          `json:"message"`
	Summary     json.RawMessage `json:"summary"`
	CreatedAt   time.Time       `json:"created_at"`
}

// FinishMinorWave records a minor wave's tag, summary and done state together, and
// retires the graft debt the minor wave paid (its dependents rebuilt against the patched
// package).
func (s *Store) FinishMinorWave(ctx context.Context, collectionID int64, t Tag) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO tags (collection_id, name, minor_wave_id, commit, message, summary)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (collection_id, name) DO NOTHING`,
			collectionID, t.Name, t.MinorWaveID, t.Commit, t.Message, t.Summary); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE minor_waves SET state = 'done', commit = $2, summary = $3, finished_at = coalesce(finished_at, now())
			WHERE id = $1`, t.MinorWaveID, t.Commit, t.Summary); err != nil {
			return err
		}
		_, err := retireGrafts(ctx, tx, t.MinorWaveID, t.Name, t.Commit, "")
		return err
	})
}

// Tags lists a collection's tags, newest first.
func (s *Store) Tags(ctx context.Context, collection string) ([]Tag, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.name, t.name, t.commit, coalesce(t.minor_wave_id, 0), t.message, t.summary, t.created_at
		FROM tags t JOIN collections c ON c.id = t.collection_id
		WHERE $1 = '' OR c.name = $1
		ORDER BY t.created_at DESC, t.name DESC`, collection)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	var out []Tag
	var t Tag
	_, err = pgx.ForEachRow(rows, []any{&t.Collection, &t.Name, &t.Commit, &t.MinorWaveID, &t.Message, &t.Summary, &t.CreatedAt}, func() error {
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	return out, nil
}

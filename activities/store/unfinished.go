package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RecordUnfinishedTag records a tag of an unfinished minor wave (wave-N-Mpre); recording
// it again changes nothing.
func (s *Store) RecordUnfinishedTag(ctx context.Context, collectionID int64, t Tag) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO unfinished_tags (collection_id, name, minor_wave_id, commit, message, summary)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (collection_id, name) DO NOTHING`,
		collectionID, t.Name, t.MinorWaveID, t.Commit, t.Message, t.Summary)
	if err != nil {
		return fmt.Errorf("record unfinished tag %s: %w", t.Name, err)
	}
	return nil
}

// UnfinishedTags lists a collection's tags of unfinished minor waves, newest first.
func (s *Store) UnfinishedTags(ctx context.Context, collection string) ([]Tag, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.name, t.name, t.commit, t.minor_wave_id, t.message, t.summary, t.created_at
		FROM unfinished_tags t JOIN collections c ON c.id = t.collection_id
		WHERE $1 = '' OR c.name = $1
		ORDER BY t.created_at DESC, t.name DESC`, collection)
	if err != nil {
		return nil, fmt.Errorf("list unfinished tags: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tag, error) {
		var t Tag
		err := r.Scan(&t.Collection, &t.Name, &t.Commit, &t.MinorWaveID, &t.Message, &t.Summary, &t.CreatedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list unfinished tags: %w", err)
	}
	return out, nil
}

// unverified counts the packages of a minor wave that are neither green nor settled yet:
// what a pin into its unfinished tag takes on trust.
func (s *Store) unverified(ctx context.Context, minorWaveID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT count(*)::int FROM package_results
		WHERE minor_wave_id = $1 AND status <> 'passed' AND resolution = ''`, minorWaveID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unverified packages: %w", err)
	}
	return n, nil
}

// NewestUnfinishedTag is the newest unfinished tag of a minor wave (ErrNotFound when it
// has none).
func (s *Store) NewestUnfinishedTag(ctx context.Context, minorWaveID int64) (Tag, error) {
	var t Tag
	err := s.pool.QueryRow(ctx, `
		SELECT name, commit, minor_wave_id, created_at FROM unfinished_tags WHERE minor_wave_id = $1
		ORDER BY created_at DESC, name DESC LIMIT 1`, minorWaveID).Scan(&t.Name, &t.Commit, &t.MinorWaveID, &t.CreatedAt)
	return t, notFound(err, "unfinished tag")
}

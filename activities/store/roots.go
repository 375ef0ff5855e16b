package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kinds of tag roots.
const (
	RootFinished   = "finished"   // wave-N-M
	RootUnfinished = "unfinished" // wave-N-Mpre
	RootSecurity   = "security"   // wave-N-M-security-K
)

// TagRoot is a tag whose outputs are rooted in the tag host's Nix store.
type TagRoot struct {
	Collection string     `json:"collection"`
	Tag        string     `json:"tag"`
	Kind       string     `json:"kind"`
	Dir        string     `json:"dir"`     // the indirect roots
	Outputs    int        `json:"outputs"` // rooted
	Missing    int        `json:"missing"` // in neither the store nor the cache
	CreatedAt  time.Time  `json:"created_at"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
}

// TagOutputs lists the outputs of the packages of evaluations that were built green (by
// any wave: a package unchanged by a wave keeps the outputs of the build that made them),
// sorted: what a tag of those evaluations pins.
func (s *Store) TagOutputs(ctx context.Context, evaluationIDs []int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT o FROM packages p
		JOIN builds b ON b.drv = p.drv AND b.status = 'passed'
		CROSS JOIN LATERAL unnest(b.outputs) o
		WHERE p.evaluation_id = ANY($1)
		ORDER BY o`, evaluationIDs)
	if err != nil {
		return nil, fmt.Errorf("outputs of evaluations %v: %w", evaluationIDs, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("outputs of evaluations %v: %w", evaluationIDs, err)
	}
	return out, nil
}

// RecordTagRoot records that a tag's outputs are rooted; recording it again (a retried
// activity) updates the counts and makes a released root active again, as rooting again
// made it.
func (s *Store) RecordTagRoot(ctx context.Context, r TagRoot) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO tag_roots (collection_id, tag, kind, dir, outputs, missing)
		SELECT id, $2, $3, $4, $5, $6 FROM collections WHERE name = $1
		ON CONFLICT (collection_id, tag) DO UPDATE SET kind = EXCLUDED.kind, dir = EXCLUDED.dir,
			outputs = EXCLUDED.outputs, missing = EXCLUDED.missing, released_at = NULL`,
		r.Collection, r.Tag, r.Kind, r.Dir, r.Outputs, r.Missing)
	if err != nil {
		return fmt.Errorf("record roots of %s: %w", r.Tag, err)
	}
	return nil
}

// TagRoots lists the roots not released yet, of one collection ("" for all), newest first.
func (s *Store) TagRoots(ctx context.Context, collection string) ([]TagRoot, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.name, r.tag, r.kind, r.dir, r.outputs, r.missing, r.created_at, r.released_at
		FROM tag_roots r JOIN collections c ON c.id = r.collection_id
		WHERE ($1 = '' OR c.name = $1) AND r.released_at IS NULL
		ORDER BY c.name, r.created_at DESC, r.tag DESC`, collection)
	if err != nil {
		return nil, fmt.Errorf("list tag roots: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TagRoot, error) {
		var r TagRoot
		err := row.Scan(&r.Collection, &r.Tag, &r.Kind, &r.Dir, &r.Outputs, &r.Missing, &r.CreatedAt, &r.ReleasedAt)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tag roots: %w", err)
	}
	return out, nil
}

// ReleaseTagRoot records that a tag's roots were removed.
func (s *Store) ReleaseTagRoot(ctx context.Context, collection, tag string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE tag_roots SET released_at = now()
		WHERE collection_id = (SELECT id FROM collections WHERE name = $1) AND tag = $2 AND released_at IS NULL`,
		collection, tag)
	if err != nil {
		return fmt.Errorf("release roots of %s: %w", tag, err)
	}
	return nil
}

// BuilderCount is what one builder did in a major wave.
type BuilderCount struct {
	Builder string `json:"builder"`
	// Builds are the package builds it recorded.
	Builds int `json:"builds"`
	// Built is how many derivations Nix built for them; Builds whose derivations all came
	// from the binary cache add none.
	Built int `json:"built"`
}

// BuildsPerBuilder counts a major wave's finished builds per builder, by builder name.
func (s *Store) BuildsPerBuilder(ctx context.Context, waveID int64) ([]BuilderCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.builder, count(*)::int, coalesce(sum(b.built), 0)::int
		FROM builds b JOIN minor_waves m ON m.id = b.minor_wave_id
		WHERE m.wave_id = $1 AND b.status <> 'running'
		GROUP BY b.builder ORDER BY b.builder`, waveID)
	if err != nil {
		return nil, fmt.Errorf("builds per builder: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BuilderCount])
	if err != nil {
		return nil, fmt.Errorf("builds per builder: %w", err)
	}
	return out, nil
}

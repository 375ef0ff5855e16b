package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WaveBuild is one finished build of a major wave: which builder made it, when, and how
// many derivations Nix built for it.
type WaveBuild struct {
	Package string `json:"package"`
	Drv     string `json:"drv"`
	Status  string `json:"status"`
	// Builder names the worker (host:pid); empty when not said.
	Builder  string    `json:"builder"`
	Built    int       `json:"built"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// WaveBuilds lists a major wave's finished builds, by start: what a check of the binary
// cache (crest bench cluster) holds each builder's Nix builds against.
func (s *Store) WaveBuilds(ctx context.Context, waveID int64) ([]WaveBuild, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.package, b.drv, b.status, b.builder, coalesce(b.built, 0), b.started_at, b.finished_at
		FROM builds b JOIN minor_waves m ON m.id = b.minor_wave_id
		WHERE m.wave_id = $1 AND b.finished_at IS NOT NULL
		ORDER BY b.started_at, b.key`, waveID)
	if err != nil {
		return nil, fmt.Errorf("builds of wave %d: %w", waveID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[WaveBuild])
	if err != nil {
		return nil, fmt.Errorf("builds of wave %d: %w", waveID, err)
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"time"
)

// BuilderFresh is how long a builder's announcement counts: a builder killed without
// withdrawing stops counting within it (builders refresh three times as often).
const BuilderFresh = time.Minute

// AnnounceBuilder records that the build worker identity runs slots builds of system at
// once, as of now; announcing again refreshes it.
func (s *Store) AnnounceBuilder(ctx context.Context, identity, system string, slots int) error {
	if slots < 1 {
		return fmt.Errorf("announce builder %s: slots must be at least 1 (got %d)", identity, slots)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO builders (identity, system, slots) VALUES ($1, $2, $3)
		ON CONFLICT (identity) DO UPDATE SET system = EXCLUDED.system, slots = EXCLUDED.slots, seen_at = now()`,
		identity, system, slots)
	if err != nil {
		return fmt.Errorf("announce builder %s: %w", identity, err)
	}
	return nil
}

// WithdrawBuilder forgets the build worker identity (it stopped).
func (s *Store) WithdrawBuilder(ctx context.Context, identity string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM builders WHERE identity = $1`, identity); err != nil {
		return fmt.Errorf("withdraw builder %s: %w", identity, err)
	}
	return nil
}

// BuildSlots is the sum of the slots of system's builders seen within fresh: 0 when none
// announced itself (or all went silent).
func (s *Store) BuildSlots(ctx context.Context, system string, fresh time.Duration) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(slots), 0) FROM builders
		WHERE system = $1 AND seen_at > now() - make_interval(secs => $2)`, system, fresh.Seconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("build slots of %s: %w", system, err)
	}
	return n, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// TestRetryAbortedRunsADeadlockVictimAgain: a transaction Postgres aborted as a deadlock
// victim (or a serialization failure, wrapped or not) runs again and its next outcome
// counts; any other error, and the fifth retryable one, is returned as it is.
func TestRetryAbortedRunsADeadlockVictimAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	runs := 0
	require.NoError(t, retryAborted(ctx, func() error {
		runs++
		if runs < 3 {
			return fmt.Errorf("record: %w", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"})
		}
		return nil
	}))
	require.Equal(t, 3, runs)

	runs = 0
	other := errors.New("unique violation, say")
	require.ErrorIs(t, retryAborted(ctx, func() error { runs++; return other }), other)
	require.Equal(t, 1, runs, "not retried")

	runs = 0
	err := retryAborted(ctx, func() error { runs++; return &pgconn.PgError{Code: "40001"} })
	var pg *pgconn.PgError
	require.ErrorAs(t, err, &pg)
	require.Equal(t, 5, runs, "gives up after five runs")
}

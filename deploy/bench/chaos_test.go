package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain makes the test binary a chaos worker process when RunChaos starts it.
func TestMain(m *testing.M) {
	if os.Getenv(ChaosWorkerEnv) != "" {
		if err := RunChaosWorker(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "chaos worker:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestChaosLosesNothing runs the demo wave while its only worker process is killed with
// SIGKILL twice and the Temporal server restarts once on its SQLite file: both tags are
// made, no derivation is recorded as built twice, and every package of each minor wave
// has its result.
func TestChaosLosesNothing(t *testing.T) {
	res, err := RunChaos(context.Background(), ChaosOptions{Kills: 2, ServerRestarts: 1, Seed: 7, Timeout: 6 * time.Minute,
		Progress: testWriter{t}, WorkerCommand: func() *exec.Cmd { return exec.Command(os.Args[0], "-test.run=^$") }})
	if res != nil {
		require.NoError(t, res.WriteText(os.Stdout))
	}
	require.NoError(t, err)
	require.Equal(t, 2, res.Kills)
	require.Equal(t, 1, res.ServerRestarts)
	require.Empty(t, res.Duplicates)
	require.Zero(t, res.Lost)
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
	require.Positive(t, res.Builds)
}

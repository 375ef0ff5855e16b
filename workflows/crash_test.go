package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/workflows"
)

// workerProcessEnv makes the test binary a Crest worker process (see TestMain), so a test
// can kill a real worker with SIGKILL.
const workerProcessEnv = "CREST_TEST_WORKER_PROCESS"

type workerProcessConfig struct {
	Temporal, Namespace, DSN, Queue, BuildPrefix, ReposDir string
}

func runWorkerProcess() int {
	var cfg workerProcessConfig
	if err := json.Unmarshal([]byte(os.Getenv(workerProcessEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, cfg.DSN)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 2
	}
	n, err := nix.New(nix.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 2
	}
	c, err := client.Dial(client.Options{HostPort: cfg.Temporal, Namespace: cfg.Namespace})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 2
	}
	acts := &activities.Activities{Store: st, Evaluator: n, Builder: activities.NixBuilder{Nix: n},
		Repos: &activities.Repos{Dir: cfg.ReposDir}}
	main := worker.New(c, cfg.Queue, worker.Options{})
	workflows.Register(main)
	activities.Register(main, acts)
	build := worker.New(c, workflows.BuildQueue(cfg.BuildPrefix, "x86_64-linux"), worker.Options{MaxConcurrentActivityExecutionSize: 2})
	activities.RegisterBuilds(build, acts)
	if err := main.Start(); err != nil {
		return 2
	}
	if err := build.Start(); err != nil {
		return 2
	}
	fmt.Println("worker ready")
	<-ctx.Done()
	return 0
}

// TestKilledWorkerLosesNothing kills the only worker process (workflows and builders) with
// SIGKILL in the middle of a minor wave's builds; a new process finishes the wave, and no
// build is recorded twice.
func TestKilledWorkerLosesNothing(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.DSN(t, false)
	st, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	defer st.Close()
	c, queue := testenv.Temporal(t)
	srv := testenv.TemporalServer(t)
	dir := t.TempDir()
	repo, err := demo.Create(ctx, filepath.Join(dir, "demo"))
	require.NoError(t, err)
	acts := &activities.Activities{Store: st}
	require.NoError(t, acts.RegisterCollection(ctx, wire.Collection{Name: "demo", Remote: repo.Remote,
		Evaluator: "index.nix", Systems: []string{"x86_64-linux"}, ProtectedRoots: repo.ProtectedRoots, TagPrefix: "wave", MainBranch: "main"}))

	cfg, _ := json.Marshal(workerProcessConfig{Temporal: srv.FrontendAddr(), Namespace: srv.Namespace(), DSN: dsn,
		Queue: queue, BuildPrefix: queue + "-build", ReposDir: filepath.Join(dir, "repos")})
	startWorker := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), workerProcessEnv+"="+string(cfg))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	first := startWorker()

	limits := workflows.Limits{BuildQueuePrefix: queue + "-build", HeartbeatTimeout: workflows.Duration(5 * time.Second),
		ShardSize: 6, Shards: 1, BuildsPerShard: 2}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue + "/wave-1", TaskQueue: queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Limits: limits,
			Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2RC1}}})
	require.NoError(t, err)

	// Kill the worker once some builds are recorded and others are not.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n := countBuilds(t, st)
		if n >= 5 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no builds recorded")
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	atKill := countBuilds(t, st)
	startWorker()

	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	require.NoError(t, run.Get(wctx, &res))
	require.Equal(t, []string{"wave-1-1"}, res.Tags)

	w, err := st.WaveByNumber(ctx, "demo", 1)
	require.NoError(t, err)
	dup, err := st.DuplicateBuilds(ctx, w.ID)
	require.NoError(t, err)
	require.Empty(t, dup, "no build recorded twice")
	m, err := st.MinorWaveByNumber(ctx, w.ID, 1)
	require.NoError(t, err)
	counts, err := st.MinorWaveCounts(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, 38, counts.Total, "libcore's reverse closure without meta.broken oldtool")
	require.Equal(t, 38, counts.Passed, "libcore 2.0.0-rc1 keeps the old API: everything passes")
	require.Greater(t, countBuilds(t, st), atKill, "the new worker built the rest")
	require.Less(t, atKill, 38, "the kill came mid-wave")
}

func countBuilds(t *testing.T, st *store.Store) int {
	t.Helper()
	n, err := st.FinishedBuilds(context.Background())
	require.NoError(t, err)
	return n
}

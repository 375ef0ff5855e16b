package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/postgres"
	"github.com/crestwaves/crest/deploy/temporal"
	"github.com/crestwaves/crest/workflows"
)

// Names of the benchmark's collection and its git refs.
const (
	CollectionName = "bench"
	System         = "x86_64-linux"
	MainBranch     = "main"
	UpdateRef      = "update/bench-v2"
	taskQueue      = "crest-bench"
)

// stack is what one run started, stopped in reverse order.
type stack struct {
	dir    string
	pg     *postgres.Cluster
	st     *store.Store
	tm     *temporal.Server
	c      client.Client
	acts   *activities.Activities
	remote string
	built  atomic.Int64  // builds the builder ran
	model  *modelBuilder // the model builder, when the run has one
	noops  atomic.Int64  // raw activities run
	stops  []func()

	// What the runs left for measure and verify.
	tag              string
	minorID          int64
	rawCPU, crestCPU cpu
	load             Load      // during the major wave, for a model run
	traces           []*tracer // the dispatcher runs' activities, for a model run
}

func (s *stack) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// startStack brings up Postgres, Temporal, the collection and the workers.
func startStack(ctx context.Context, opts Options, col Collection) (s *stack, err error) {
	s = &stack{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if s.dir, err = os.MkdirTemp(opts.Dir, "crest-bench-"); err != nil {
		return nil, fmt.Errorf("bench directory: %w", err)
	}
	s.stops = append(s.stops, func() { _ = os.RemoveAll(s.dir) })
	if err := os.Chmod(s.dir, 0o755); err != nil { // the postgres account must reach its cluster
		return nil, err
	}

	s.pg, err = postgres.Start(ctx, postgres.Options{Dir: filepath.Join(s.dir, "postgres"), Ephemeral: true,
		BinDir: opts.PostgresBinDir, RunAs: opts.PostgresRunAs})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.stops = append(s.stops, func() { _ = s.pg.Stop(context.Background()) })
	u, err := url.Parse(s.pg.DSN(""))
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(opts.PoolConns))
	u.RawQuery = q.Encode()
	if s.st, err = store.Open(ctx, u.String()); err != nil {
		return nil, err
	}
	s.stops = append(s.stops, s.st.Close)
	if _, err := s.st.Migrate(ctx); err != nil {
		return nil, err
	}

	s.tm, err = temporal.Start(ctx, temporal.Options{UIPort: -1, SearchAttributes: workflows.SearchAttributes,
		LogFile: filepath.Join(s.dir, "temporal.log"), DynamicConfig: opts.TemporalConfig})
	if err != nil {
		return nil, fmt.Errorf("temporal: %w", err)
	}
	s.stops = append(s.stops, s.tm.Stop)
	copts := client.Options{HostPort: s.tm.FrontendAddr(), Namespace: s.tm.Namespace(), Logger: temporal.SilentLogger()}
	if s.c, err = client.Dial(copts); err != nil {
		return nil, fmt.Errorf("connect to temporal: %w", err)
	}
	s.stops = append(s.stops, s.c.Close)

	if s.remote, err = createRepo(ctx, filepath.Join(s.dir, "git")); err != nil {
		return nil, err
	}
	var builder activities.Builder = failing{Builder: activities.NoopBuilder{}, share: opts.FailShare}
	if opts.Builder == "model" {
		if s.model, err = newModelBuilder(col, opts.TimeScale, builder); err != nil {
			return nil, err
		}
		builder = s.model
	}
	s.acts = &activities.Activities{
		Store:     s.st,
		Evaluator: Evaluator{Packages: col.Packages},
		Builder:   counting{Builder: builder, n: &s.built},
		Repos:     &activities.Repos{Dir: filepath.Join(s.dir, "repos")},
	}
	if err := s.acts.RegisterCollection(ctx, wire.Collection{
		Name: CollectionName, Remote: s.remote, Evaluator: VersionFile, Systems: []string{System},
		TagPrefix: "wave", MainBranch: MainBranch,
	}); err != nil {
		return nil, err
	}
	return s, s.startWorkers(opts)
}

// startWorkers runs the workers as `crest worker` does (workflows and bookkeeping on one
// queue, builds on the system's build queue), with the raw workflows and activity beside.
func (s *stack) startWorkers(opts Options) error {
	w := opts.Workers
	main := worker.New(s.c, taskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize:     w.MaxActivities,
		MaxConcurrentWorkflowTaskExecutionSize: w.MaxWorkflowTasks,
		MaxConcurrentWorkflowTaskPollers:       w.WorkflowPollers,
		MaxConcurrentActivityTaskPollers:       w.ActivityPollers,
	})
	workflows.Register(main)
	activities.Register(main, s.acts)
	registerRawWorkflows(main)
	build := worker.New(s.c, workflows.BuildQueue(opts.Limits.BuildQueuePrefix, System), worker.Options{
		MaxConcurrentActivityExecutionSize: w.MaxBuilds,
		MaxConcurrentActivityTaskPollers:   w.ActivityPollers,
	})
	activities.RegisterBuilds(build, s.acts)
	registerRawActivity(build, &s.noops)
	if err := main.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	s.stops = append(s.stops, main.Stop)
	if err := build.Start(); err != nil {
		return fmt.Errorf("start build worker: %w", err)
	}
	s.stops = append(s.stops, build.Stop)
	return nil
}

// counting is a builder that counts the builds it ran, for progress.
type counting struct {
	activities.Builder
	n *atomic.Int64
}

func (b counting) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	res, err := b.Builder.Build(ctx, drv, tests, heartbeat)
	b.n.Add(1)
	return res, err
}

// createRepo makes the collection's bare remote: main with VERSION v1, and the update
// branch on it with VERSION v2.
func createRepo(ctx context.Context, dir string) (string, error) {
	remote := filepath.Join(dir, "collection.git")
	work := filepath.Join(dir, "work")
	steps := []struct {
		dir  string
		file string
		args []string
	}{
		{"", "", []string{"init", "--quiet", "--bare", "--initial-branch=" + MainBranch, remote}},
		{"", "", []string{"init", "--quiet", "--initial-branch=" + MainBranch, work}},
		{work, "v1", []string{"add", VersionFile}},
		{work, "", []string{"commit", "--quiet", "-m", "bench collection: " + VersionFile + " v1"}},
		{work, "", []string{"checkout", "--quiet", "-b", UpdateRef}},
		{work, "v2", []string{"commit", "--quiet", "-am", "update every package: " + VersionFile + " v2"}},
		{work, "", []string{"push", "--quiet", remote, MainBranch, UpdateRef}},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, st := range steps {
		if st.file != "" {
			if err := os.WriteFile(filepath.Join(work, VersionFile), []byte(st.file+"\n"), 0o644); err != nil {
				return "", err
			}
		}
		if err := git(ctx, st.dir, st.args...); err != nil {
			return "", fmt.Errorf("bench collection: %w", err)
		}
	}
	return remote, nil
}

func git(ctx context.Context, dir string, args ...string) error {
	sub := args[0]
	args = append([]string{"-c", "user.name=Crest Bench", "-c", "user.email=bench@crest.invalid"}, args...)
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("git is not installed (apt-get install git): %w", err)
		}
		return fmt.Errorf("git %s: %w: %s", sub, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

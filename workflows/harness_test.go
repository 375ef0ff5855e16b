package workflows_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/filer"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/workflows"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerProcessEnv) != "" {
		os.Exit(runWorkerProcess())
	}
	testenv.Main(m)
}

// stack is a real Crest for one test: Postgres, the embedded Temporal server, Nix, git and
// the demo collection, with workers on task queues of the test's own.
type stack struct {
	t      *testing.T
	st     *store.Store
	c      client.Client
	queue  string
	demo   demo.Repo
	acts   *activities.Activities
	limits workflows.Limits
	stop   func()
}

// newStack starts a stack; configure (if any) changes its activities before the workers
// start.
func newStack(t *testing.T, configure ...func(*stack)) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{t: t, st: testenv.Store(t)}
	s.c, s.queue = testenv.Temporal(t)
	dir := t.TempDir()
	var err error
	s.demo, err = demo.Create(ctx, filepath.Join(dir, "demo"))
	require.NoError(t, err)
	n, err := nix.New(nix.Config{})
	require.NoError(t, err, "real Nix is needed: apt-get install nix-bin")
	s.acts = &activities.Activities{Store: s.st, Evaluator: n, Builder: activities.NixBuilder{Nix: n},
		Repos:  &activities.Repos{Dir: filepath.Join(dir, "repos")},
		Issues: activities.FilerIssues{Filer: &filer.Filer{Store: s.st, Tracker: local.New(s.st, local.Options{})}},
		Roots:  &activities.TagRoots{Nix: n, Dir: filepath.Join(dir, "gcroots")}}
	require.NoError(t, s.acts.RegisterCollection(ctx, s.demoCollection()))
	s.limits = workflows.Limits{BuildQueuePrefix: s.queue + "-build", HeartbeatTimeout: workflows.Duration(10 * time.Second),
		ShardSize: 8, Shards: 2, BuildsPerShard: 4}
	for _, c := range configure {
		c(s)
	}
	s.startWorkers()
	return s
}

// demoCollection is the demo as the stack registers it.
func (s *stack) demoCollection() wire.Collection {
	return wire.Collection{Name: "demo", Remote: s.demo.Remote, Evaluator: "index.nix", Systems: []string{"x86_64-linux"},
		ProtectedRoots: s.demo.ProtectedRoots, SystemTests: s.demo.SystemTests, TagPrefix: "wave", MainBranch: demo.MainBranch}
}

func (s *stack) startWorkers() {
	main := worker.New(s.c, s.queue, worker.Options{})
	workflows.Register(main)
	activities.Register(main, s.acts)
	build := worker.New(s.c, workflows.BuildQueue(s.limits.BuildQueuePrefix, "x86_64-linux"), worker.Options{MaxConcurrentActivityExecutionSize: 2})
	activities.RegisterBuilds(build, s.acts)
	require.NoError(s.t, main.Start())
	require.NoError(s.t, build.Start())
	s.stop = func() { main.Stop(); build.Stop() }
	s.t.Cleanup(func() { s.stop() })
}

// status queries a major wave.
func (s *stack) status(id string) workflows.MajorStatus {
	s.t.Helper()
	v, err := s.c.QueryWorkflow(context.Background(), id, "", workflows.QueryStatus)
	require.NoError(s.t, err)
	var st workflows.MajorStatus
	require.NoError(s.t, v.Get(&st))
	return st
}

// waitFor polls a major wave's status until cond holds.
func (s *stack) waitFor(id, what string, cond func(workflows.MajorStatus) bool) workflows.MajorStatus {
	s.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st := s.status(id)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; status: %+v", what, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// minorWaiting holds when minor wave number m waits with exactly the given failures.
// waitRecorded waits until Postgres records pkg with status in minor wave minor of major
// wave major: the moment `crest wave status` shows it.
func (s *stack) waitRecorded(t *testing.T, major, minor int, pkg, status string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if w, err := s.st.WaveByNumber(ctx, "demo", major); err == nil {
			if m, err := s.st.MinorWaveByNumber(ctx, w.ID, minor); err == nil {
				if rs, err := s.st.Results(ctx, m.ID, pkg); err == nil && len(rs) == 1 && rs[0].Status == status {
					return
				}
			}
		}
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s to be %s in wave-%d-%d", pkg, status, major, minor)
		time.Sleep(20 * time.Millisecond)
	}
}

func mustWave(t *testing.T, st *store.Store, n int) store.Wave {
	t.Helper()
	w, err := st.WaveByNumber(context.Background(), "demo", n)
	require.NoError(t, err)
	return w
}

func minorWaiting(m int, failures ...string) func(workflows.MajorStatus) bool {
	return func(st workflows.MajorStatus) bool {
		if len(st.Minor) < m || st.Minor[m-1].Phase != workflows.PhaseWaiting {
			return false
		}
		var got []string
		for _, f := range st.Minor[m-1].Summary.Failures {
			if f.Resolution == "" {
				got = append(got, f.Package)
			}
		}
		return len(got) == len(failures) && equalSets(got, failures)
	}
}

func equalSets(a, b []string) bool {
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func (s *stack) update(id, name string, arg any) (string, error) {
	s.t.Helper()
	h, err := s.c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return "", err
	}
	var out string
	err = h.Get(context.Background(), &out)
	return out, err
}

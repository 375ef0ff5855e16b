package activities_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
)

// builderHost is a builder on a machine of its own: its own Nix store (empty at first) and
// its own clone of the collection, sharing only Postgres and the binary cache.
type builderHost struct {
	nix *nix.Nix
	env *testsuite.TestActivityEnvironment
}

func newBuilderHost(t *testing.T, st *store.Store, dir string, cache nix.Cache) builderHost {
	t.Helper()
	n, err := nix.New(nix.Config{StoreRoot: filepath.Join(dir, "nix"), Cache: cache})
	require.NoError(t, err, "real Nix is needed: apt-get install nix-bin")
	acts := &activities.Activities{Store: st, Evaluator: n, Builder: activities.NixBuilder{Nix: n},
		Repos: &activities.Repos{Dir: filepath.Join(dir, "repos")}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	activities.Register(env, acts)
	activities.RegisterBuilds(env, acts)
	return builderHost{nix: n, env: env}
}

func (h builderHost) build(t *testing.T, in wire.BuildInput) wire.BuildResult {
	t.Helper()
	v, err := h.env.ExecuteActivity(wire.ActivityBuildPackage, in)
	require.NoError(t, err, "build %s", in.Package)
	var res wire.BuildResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, store.StatusPassed, res.Status, in.Package)
	return res
}

// TestBuildersShareOutputsThroughTheCache: two builders on stores of their own, as on two
// machines. Builder A builds libjson and what it is built with, one BuildPackage each, and
// pushes each green build to the cache. Builder B has never evaluated the collection; asked
// to build jsonfmt (built with libjson), it instantiates the commit, fetches libjson and
// the rest from the cache, builds jsonfmt and its test and nothing else, and pushes them.
func TestBuildersShareOutputsThroughTheCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := testenv.Store(t)
	repo, err := demo.Create(ctx, filepath.Join(dir, "demo"))
	require.NoError(t, err)
	pub, sec, err := nix.GenerateKey("crest-test-1")
	require.NoError(t, err)
	cacheDir := filepath.Join(dir, "cache")
	cache := nix.Cache{URL: "file://" + cacheDir, PublicKey: pub, SecretKey: sec}

	a := newBuilderHost(t, st, filepath.Join(dir, "a"), cache)
	b := newBuilderHost(t, st, filepath.Join(dir, "b"), cache)
	col := wire.Collection{Name: "demo", Remote: repo.Remote, Evaluator: "index.nix", Systems: []string{"x86_64-linux"},
		TagPrefix: "wave", MainBranch: demo.MainBranch}
	_, err = a.env.ExecuteActivity(wire.ActivityRegisterCollection, col)
	require.NoError(t, err)
	v, err := a.env.ExecuteActivity(wire.ActivityEvaluate, wire.EvaluateInput{Collection: "demo",
		Commit: repo.Commits[demo.MainBranch], System: "x86_64-linux"})
	require.NoError(t, err)
	var ev wire.EvaluateResult
	require.NoError(t, v.Get(&ev))
	pkgs, err := st.LoadPackages(ctx, ev.EvaluationID)
	require.NoError(t, err)
	drv := map[string]string{}
	for _, p := range pkgs {
		drv[p.Key] = p.Drv
	}

	input := func(host, pkg string) wire.BuildInput {
		return wire.BuildInput{Key: host + "/" + pkg, EvaluationID: ev.EvaluationID, System: "x86_64-linux",
			Package: pkg, Collection: "demo"}
	}
	for _, pkg := range []string{"stdenv-stage0", "stdenv-stage1", "stdenv", "libcore", "libjson"} {
		res := a.build(t, input("a", pkg))
		require.Zero(t, res.Substituted, "%s: the cache had nothing A needed", pkg)
		require.Positive(t, res.Built, pkg)
	}

	res := b.build(t, input("b", "jsonfmt"))
	require.Equal(t, 2, res.Built, "B built jsonfmt and its test, nothing else")
	require.Positive(t, res.Substituted)
	_, valid, err := b.nix.Valid(ctx, drv["libjson"])
	require.NoError(t, err)
	require.True(t, valid, "libjson is in B's store, fetched")
	rec, _, err := st.BuildStatus(ctx, "b/jsonfmt")
	require.NoError(t, err)
	require.Equal(t, store.StatusPassed, rec.Status)
	require.Len(t, rec.Outputs, 2, "jsonfmt's output and its test's")
	for _, out := range rec.Outputs {
		hash, _, _ := strings.Cut(strings.TrimPrefix(out, "/nix/store/"), "-")
		_, err := os.Stat(filepath.Join(cacheDir, hash+".narinfo"))
		require.NoError(t, err, "B pushed %s", out)
	}
}

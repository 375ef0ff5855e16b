package bench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/graph"
)

// TestBuiltOnce holds builds against pushes and recorded package builds: a build begun
// after the output was in the cache, before the package build needing it began, is
// rebuilt; a race is only built twice; a build no recorded build spans is held against
// nothing.
func TestBuiltOnce(t *testing.T) {
	t.Parallel()
	at := func(s float64) time.Time { return time.Unix(1000, 0).Add(time.Duration(s * float64(time.Second))) }
	built := map[string]map[string]time.Time{
		"a": {"dep.drv": at(1), "app.drv": at(2)},
		"b": {"dep.drv": at(20), "tool.drv": at(3)},
		"c": {"dep.drv": at(30)},
		"d": {"tool.drv": at(3.5)},
	}
	spans := map[string][]recordedBuild{
		"a": {{Package: "app", Start: at(0.5), Finished: at(4)}},
		"b": {{Package: "other", Start: at(19), Finished: at(25)}, {Package: "tool", Start: at(2.9), Finished: at(5)}},
		"d": {{Package: "tool", Start: at(3.2), Finished: at(6)}},
		// c has no recorded build spanning its: a builder killed mid-build.
	}
	pushed := map[string]time.Time{"dep.drv": at(4), "tool.drv": at(3.4)}
	rebuilt, twice := builtOnce(built, spans, pushed)
	require.Len(t, rebuilt, 1, "b built dep 15 s after it was pushed")
	require.True(t, strings.HasPrefix(rebuilt[0], "dep.drv on b "), rebuilt[0])
	require.Equal(t, []string{"dep.drv (a, b, c)", "tool.drv (b, d)"}, twice,
		"b's and d's tool began before it was pushed: a race, not a rebuild")
}

// TestStoreBuildsAndCachePushes reads a store's build logs and a cache's narinfos as Nix
// writes them.
func TestStoreBuildsAndCachePushes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root, cache := filepath.Join(dir, "nix"), filepath.Join(dir, "cache")
	none, err := storeBuilds(root)
	require.NoError(t, err)
	require.Empty(t, none, "a store that built nothing has no logs")
	before := time.Now().Add(-time.Second)
	for _, p := range []string{"var/log/nix/drvs/ab/cdef-x-1.drv.bz2", "var/log/nix/drvs/gh/ijkl-y-2.drv"} {
		require.NoError(t, writeFile(filepath.Join(root, p), []byte("log"), 0o644))
	}
	got, err := storeBuilds(root)
	require.NoError(t, err)
	require.Equal(t, []string{"abcdef-x-1.drv", "ghijkl-y-2.drv"}, slices.Sorted(mapKeys(got)))
	for _, when := range got {
		require.True(t, when.After(before), "the log's birth time")
	}
	require.NoError(t, writeFile(filepath.Join(cache, "aaa.narinfo"), []byte("StorePath: /nix/store/aaa-x-1\nDeriver: abcdef-x-1.drv\nSig: k:s\n"), 0o644))
	require.NoError(t, writeFile(filepath.Join(cache, "bbb.narinfo"), []byte("StorePath: /nix/store/bbb-src\n"), 0o644))
	require.NoError(t, writeFile(filepath.Join(cache, "nix-cache-info"), []byte("StoreDir: /nix/store\n"), 0o644))
	pushes, err := cachePushes(cache)
	require.NoError(t, err)
	require.Equal(t, []string{"abcdef-x-1.drv"}, slices.Sorted(mapKeys(pushes)), "paths without a deriver are nobody's build")
}

// TestBuiltOnceCatchesACacheNotUsed builds with real Nix on three stores of their own and
// one cache: A builds libjson and pushes it with what it built on the way; C, with the
// cache, builds jsonfmt (built with libjson) and fetches libjson; B, which pushes but does
// not substitute (the cache disabled for fetching), builds jsonfmt, and with it libjson
// again. The check finds B's rebuilds and nothing of A's or C's.
func TestBuiltOnceCatchesACacheNotUsed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("stores of their own (nix.store_root) need root")
	}
	ctx := context.Background()
	dir := t.TempDir()
	repo, err := demo.Create(ctx, filepath.Join(dir, "repo"))
	require.NoError(t, err)
	checkout := filepath.Join(dir, "checkout")
	require.NoError(t, repo.Export(ctx, demo.MainBranch, checkout))
	cacheDir := filepath.Join(dir, "cache")
	pub, sec, err := nix.GenerateKey("crest-test-1")
	require.NoError(t, err)
	cache := nix.Cache{URL: "file://" + cacheDir, PublicKey: pub, SecretKey: sec}

	built := map[string]map[string]time.Time{}
	spans := map[string][]recordedBuild{}
	drvs := map[string]string{}
	build := func(name, pkg string, opts []nix.Option) {
		t.Helper()
		n, err := nix.New(nix.Config{StoreRoot: filepath.Join(dir, name), Cache: cache, Options: opts})
		require.NoError(t, err)
		pkgs, err := n.Evaluate(ctx, checkout, "")
		require.NoError(t, err)
		i := slices.IndexFunc(pkgs, func(p graph.Package) bool { return p.Key == pkg })
		require.GreaterOrEqual(t, i, 0, pkg)
		for _, p := range pkgs {
			drvs[p.Key] = filepath.Base(p.Drv)
		}
		var tests []string
		for _, tt := range pkgs[i].Tests {
			tests = append(tests, tt.Drv)
		}
		start := time.Now()
		res, err := activities.NixBuilder{Nix: n}.Build(ctx, pkgs[i].Drv, tests, func() {})
		require.NoError(t, err)
		require.Equal(t, "passed", res.Status)
		spans[name] = append(spans[name], recordedBuild{Package: pkg, Start: start, Finished: time.Now()})
		built[name], err = storeBuilds(filepath.Join(dir, name))
		require.NoError(t, err)
	}
	build("a", "libjson", nil)
	build("c", "jsonfmt", nil)
	time.Sleep(clockSlack + 100*time.Millisecond) // pushed well before the next build begins
	build("b", "jsonfmt", []nix.Option{{Name: "substituters", Value: ""}})
	pushed, err := cachePushes(cacheDir)
	require.NoError(t, err)
	require.Contains(t, pushed, drvs["libjson"], "A pushed libjson")
	require.Contains(t, built["c"], drvs["jsonfmt"])
	require.NotContains(t, built["c"], drvs["libjson"], "C fetched libjson")

	rebuilt, twice := builtOnce(built, spans, pushed)
	require.Contains(t, strings.Join(rebuilt, "\n"), drvs["libjson"]+" on b ", "B built libjson, in the cache already")
	require.Contains(t, strings.Join(rebuilt, "\n"), drvs["jsonfmt"]+" on b ", "and jsonfmt, which C pushed")
	for _, r := range rebuilt {
		require.Contains(t, r, " on b ", "only B ignored the cache")
	}
	require.Contains(t, twice, drvs["libjson"]+" (a, b)")
}

package nix_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/nix"
)

// gcIndex is an index of three packages: dep, newer (whose output refers to dep's, so dep
// is in its closure) and older.
func gcIndex(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	expr := fmt.Sprintf(`{ system ? builtins.currentSystem, hostPath ? "/usr/bin:/bin" }:
let
  mk = name: script: derivation { name = "crest-gc-${name}-%s"; inherit system; builder = "/bin/sh"; PATH = hostPath; args = [ "-e" "-c" script ]; };
  dep = mk "dep" "echo dep > $out";
  newer = mk "newer" "echo ${dep} > $out";
  older = mk "older" "echo older > $out";
  record = attr: d: { inherit attr; name = attr; version = "1"; inherit system; drv = d.drvPath; deps = [ ]; tests = [ ]; maintainers = [ "alice" ]; broken = false; };
in [ (record "dep" dep) (record "newer" newer) (record "older" older) ]
`, nonce)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.nix"), []byte(expr), 0o644))
	return dir
}

// TestRootsSurviveGarbageCollection: outputs rooted for a tag (with their closures) survive
// nix-store --gc; once the tag's root directory is removed, the next collection deletes
// them. A tag host with an empty store roots what a builder pushed by fetching it from
// the cache; what is nowhere is reported missing.
func TestRootsSurviveGarbageCollection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	keys := newKeys(t, "crest-test-1")
	cache := nix.Cache{URL: "file://" + filepath.Join(dir, "cache"), PublicKey: keys.pub, SecretKey: keys.sec}
	n := storeOf(t, filepath.Join(dir, "store"), cache)
	index := gcIndex(t)
	pkgs, err := n.Evaluate(ctx, index, "")
	require.NoError(t, err)
	out := map[string]string{}
	for _, p := range pkgs {
		res, err := n.Realise(ctx, p.Drv, nix.RealiseOptions{})
		require.NoError(t, err)
		out[p.Key] = res.Outputs[0]
	}
	valid := func(n *nix.Nix, key string) bool {
		t.Helper()
		invalid, err := n.Invalid(ctx, []string{out[key]})
		require.NoError(t, err)
		return len(invalid) == 0
	}

	olderRoots, newerRoots := filepath.Join(dir, "gcroots", "wave-1-1"), filepath.Join(dir, "gcroots", "wave-1-2")
	missing := "/nix/store/00000000000000000000000000000000-crest-gone"
	r, err := n.AddRoots(ctx, olderRoots, []string{out["older"], missing})
	require.NoError(t, err)
	require.Equal(t, nix.Roots{Rooted: []string{out["older"]}, Missing: []string{missing}}, r)
	r, err = n.AddRoots(ctx, newerRoots, []string{out["newer"]})
	require.NoError(t, err)
	require.Equal(t, []string{out["newer"]}, r.Rooted)
	r, err = n.AddRoots(ctx, newerRoots, []string{out["newer"]})
	require.NoError(t, err, "rooting again is harmless")
	require.Equal(t, []string{out["newer"]}, r.Rooted)

	summary, err := n.CollectGarbage(ctx)
	require.NoError(t, err)
	require.Contains(t, summary, "store paths deleted")
	for _, k := range []string{"older", "newer", "dep"} {
		require.True(t, valid(n, k), "%s survives: rooted, or in a rooted closure", k)
	}

	require.NoError(t, os.RemoveAll(olderRoots)) // what crest gc does to release a tag
	_, err = n.CollectGarbage(ctx)
	require.NoError(t, err)
	require.False(t, valid(n, "older"), "released, collected")
	require.True(t, valid(n, "newer"))
	require.True(t, valid(n, "dep"), "in newer's closure")

	// The tag host: another store, empty, roots what the builder pushed.
	require.NoError(t, n.Push(ctx, []string{out["newer"]}, nix.RealiseOptions{}))
	host := storeOf(t, filepath.Join(dir, "host"), nix.Cache{URL: cache.URL, PublicKey: keys.pub})
	r, err = host.AddRoots(ctx, filepath.Join(dir, "host-roots"), []string{out["newer"], out["older"]})
	require.NoError(t, err)
	require.Equal(t, []string{out["newer"]}, r.Rooted, "fetched from the cache and rooted")
	require.Equal(t, []string{out["older"]}, r.Missing, "collected, never pushed")
	_, err = host.CollectGarbage(ctx)
	require.NoError(t, err)
	require.True(t, valid(host, "newer"))
	require.True(t, valid(host, "dep"))
}

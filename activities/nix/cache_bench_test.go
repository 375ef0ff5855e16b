package nix_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/nix"
)

// BenchmarkDerivationsReachAnEmptyStore compares the two ways a builder whose store lacks
// a derivation can build it when everything it is built with is in the cache:
//
//   - reinstantiate: what Crest does. Realising fails with ErrUnknownDerivation, the builder
//     evaluates the commit (writing every derivation of the collection), realises again.
//   - cache: the evaluator pushed every derivation of the evaluation to the cache
//     (push-drvs-s reports what that costs, once per evaluation), and realising fetches the
//     derivation's closure.
//
// Each op is a builder's first two builds of an evaluation: jsonfmt (first-s), then hello
// (next-s), each built from what the cache holds. Run with
// `go test -run '^$' -bench DerivationsReach -benchtime 5x ./activities/nix/`.
func BenchmarkDerivationsReachAnEmptyStore(b *testing.B) {
	e := demoMain(b)
	ctx := context.Background()
	dir := b.TempDir()
	keys := newKeys(b, "crest-bench-1")
	cacheDir := filepath.Join(dir, "cache")
	cache := nix.Cache{URL: "file://" + cacheDir, PublicKey: keys.pub, SecretKey: keys.sec}
	host := newNix(b, nix.Config{Cache: cache})
	libjson, jsonfmt, hello := e.byKey["libjson"], e.byKey["jsonfmt"], e.byKey["hello"]
	built, err := host.Realise(ctx, libjson.Drv, nix.RealiseOptions{})
	require.NoError(b, err)
	deps, err := host.ValidOutputs(ctx, append(built.Built, e.byKey["stdenv"].Drv))
	require.NoError(b, err)
	require.NoError(b, host.Push(ctx, append(built.Outputs, deps...), nix.RealiseOptions{}))

	drvCacheDir := filepath.Join(dir, "drv-cache")
	drvCache := nix.Cache{URL: "file://" + drvCacheDir, PublicKey: keys.pub}
	require.NoError(b, os.CopyFS(drvCacheDir, os.DirFS(cacheDir)))
	keyFile := filepath.Join(dir, "secret-key")
	require.NoError(b, os.WriteFile(keyFile, []byte(keys.sec), 0o600))
	var drvs []string
	for _, p := range e.pkgs {
		drvs = append(drvs, p.Drv)
		for _, t := range p.Tests {
			drvs = append(drvs, t.Drv)
		}
	}
	start := time.Now()
	args := append([]string{"copy", "--extra-experimental-features", "nix-command", "--derivation",
		"--to", drvCache.URL + "?secret-key=" + keyFile}, drvs...)
	args = append(args, "--option", "build-users-group", "")
	out, err := exec.Command("nix", args...).CombinedOutput()
	require.NoError(b, err, "%s", out)
	pushed := time.Since(start)

	seq := 0
	emptyStore := func(cache nix.Cache) *nix.Nix {
		seq++
		return storeOf(b, filepath.Join(dir, "store-"+strconv.Itoa(seq)), cache)
	}
	// build realises drv as BuildPackage does: instantiating the commit when the store
	// lacks the derivation.
	build := func(n *nix.Nix, drv string) {
		res, err := n.Realise(ctx, drv, nix.RealiseOptions{})
		if errors.Is(err, nix.ErrUnknownDerivation) {
			_, err = n.Evaluate(ctx, e.checkout, "")
			require.NoError(b, err)
			res, err = n.Realise(ctx, drv, nix.RealiseOptions{})
		}
		require.NoError(b, err)
		require.Equal(b, []string{drv}, res.Built, "everything else came from the cache")
	}
	run := func(b *testing.B, cache nix.Cache) {
		var first, next time.Duration
		for b.Loop() {
			b.StopTimer()
			n := emptyStore(cache)
			b.StartTimer()
			start := time.Now()
			build(n, jsonfmt.Drv)
			first += time.Since(start)
			start = time.Now()
			build(n, hello.Drv)
			next += time.Since(start)
		}
		b.ReportMetric(first.Seconds()/float64(b.N), "first-s")
		b.ReportMetric(next.Seconds()/float64(b.N), "next-s")
	}
	b.Run("reinstantiate", func(b *testing.B) { run(b, cache) })
	b.Run("cache", func(b *testing.B) {
		run(b, drvCache)
		b.ReportMetric(pushed.Seconds(), "push-drvs-s")
		b.ReportMetric(float64(len(drvs)), "drvs-pushed")
	})
}

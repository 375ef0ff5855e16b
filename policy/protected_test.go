package policy_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// checkProtected compares set against an independent breadth-first walk from roots and
// checks that every Why is a real, shortest dependency chain from a root. It reports with
// plain comparisons: on the Debian graph it checks 34k packages.
func checkProtected(t *testing.T, g *graph.Graph, roots []string, set policy.Set) {
	t.Helper()
	dist := bfsClosure(g, roots)
	require.Equal(t, sortedKeys(dist), set.Keys())
	require.Equal(t, len(dist), set.Len())
	isRoot := make(map[string]bool, len(roots))
	for _, r := range roots {
		isRoot[r] = true
	}
	bad := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, k := range g.Keys() {
		_, want := dist[k]
		if set.Has(k) != want {
			fail("Has(%s) = %v, want %v", k, !want, want)
		}
		chain := set.Why(k)
		switch {
		case !want:
			if chain != nil {
				fail("Why(%s) = %s for an unprotected package", k, chain)
			}
			continue
		case len(chain) == 0 || !isRoot[chain.Root()] || chain[len(chain)-1] != k:
			fail("Why(%s) = %s: not from a root to the package", k, chain)
			continue
		case len(chain) != dist[k]+1:
			fail("Why(%s) = %s: %d steps, the shortest chain has %d", k, chain, len(chain)-1, dist[k])
		}
		for i := 0; i+1 < len(chain); i++ {
			if _, ok := slices.BinarySearch(g.Deps(chain[i]), chain[i+1]); !ok {
				fail("Why(%s) = %s: %s does not depend on %s", k, chain, chain[i], chain[i+1])
			}
		}
	}
}

func helloPackage(t *testing.T, g *graph.Graph, attr string) string {
	t.Helper()
	for _, p := range g.Packages() {
		if p.Attr == attr {
			return p.Key
		}
	}
	t.Fatalf("no package with attribute %s", attr)
	return ""
}

// TestProtectedHello protects the stdenv hello is built with in the recorded Nixpkgs
// closure of hello: the whole bootstrap is protected, hello itself is not.
func TestProtectedHello(t *testing.T) {
	t.Parallel()
	g := loadData(t, helloFile)
	hello := helloPackage(t, g, "hello")
	var stdenv string
	for _, d := range g.Deps(hello) {
		if p, _ := g.Package(d); p.Name == "stdenv-linux" {
			stdenv = d
		}
	}
	require.NotEmpty(t, stdenv, "hello's stdenv")

	set, err := policy.Protected(g, []string{stdenv})
	require.NoError(t, err)
	checkProtected(t, g, []string{stdenv}, set)
	require.False(t, set.Has(hello), "a leaf application is not protected")
	require.True(t, set.Has(stdenv))
	require.Greater(t, set.Len(), 50, "the stdenv bootstrap is most of hello's closure")
	require.Equal(t, policy.Chain{stdenv}, set.Why(stdenv))
	require.Equal(t, []string{stdenv}, set.Roots())

	// Protecting hello protects its stdenv through it.
	set2, err := policy.Protected(g, []string{hello})
	require.NoError(t, err)
	require.Equal(t, policy.Chain{hello, stdenv}, set2.Why(stdenv))
	checkProtected(t, g, []string{hello}, set2)
}

// TestProtectedDebian protects Debian's build-essential sources (Debian's stdenv) in the
// recorded bookworm graph, cycles and all.
func TestProtectedDebian(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the 34k-package Debian graph")
	}
	t.Parallel()
	path := dataPath(t, debianFile)
	g := loadData(t, debianFile)

	// build_essential is not part of graph.Package: read it from the records.
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	require.NoError(t, err)
	var roots []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(`"build_essential":true`)) {
			continue // decoding only the 67 roots keeps the test quick under -race
		}
		var rec struct {
			Name           string `json:"name"`
			BuildEssential bool   `json:"build_essential"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		if rec.BuildEssential && rec.Name != "" {
			roots = append(roots, rec.Name)
		}
	}
	require.NoError(t, sc.Err())
	require.Len(t, roots, 67)

	// Input order must not matter.
	shuffled := slices.Clone(roots)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	set, err := policy.Protected(g, shuffled)
	require.NoError(t, err)
	checkProtected(t, g, roots, set)
	for _, r := range roots {
		require.Equal(t, policy.Chain{r}, set.Why(r))
	}
	require.True(t, set.Has("glibc"))
	require.False(t, set.Has("hello"), "a leaf application is not protected")
	require.Empty(t, g.Dependents("hello"))
	require.Less(t, set.Len(), g.Len())
	t.Logf("Debian: %d build-essential roots protect %d of %d packages", len(roots), set.Len(), g.Len())
}

func TestProtectedErrors(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "stdenv:gcc", "gcc:", "glibc:", "app:stdenv")

	_, err := policy.Protected(g, []string{"stdemv", "gcc", "glibcc"})
	require.ErrorContains(t, err, `protected roots: unknown package "glibcc" (did you mean: glibc?); unknown package "stdemv" (did you mean: stdenv?)`)
	var uk *graph.UnknownKeysError
	require.True(t, errors.As(err, &uk))
	require.Equal(t, []string{"glibcc", "stdemv"}, uk.Keys)

	_, err = policy.Protected(g, []string{""})
	require.ErrorContains(t, err, "empty package name")
	_, err = policy.Protected(nil, []string{"stdenv"})
	require.Error(t, err)

	// No roots: nothing protected, like the zero Set.
	set, err := policy.Protected(g, nil)
	require.NoError(t, err)
	require.Zero(t, set.Len())
	require.False(t, set.Has("gcc"))
	require.False(t, policy.Set{}.Has("gcc"))
	require.Nil(t, policy.Set{}.Why("gcc"))

	// Repeated roots are harmless.
	set, err = policy.Protected(g, []string{"stdenv", "stdenv"})
	require.NoError(t, err)
	require.Equal(t, []string{"gcc", "stdenv"}, set.Keys())
	require.Equal(t, []string{"stdenv"}, set.Roots())
}

func TestChainString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "stdenv → gcc → libfoo", policy.Chain{"stdenv", "gcc", "libfoo"}.String())
	long := policy.Chain{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	require.Equal(t, "a → b → c → … (4 more) → h → i → j", long.String())
	require.Equal(t, "", policy.Chain(nil).Root())
}

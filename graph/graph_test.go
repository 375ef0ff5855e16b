package graph

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/graph/topo"
)

// pk makes a package with deps, the only fields most tests need.
func pk(key string, deps ...string) Package { return Package{Key: key, Name: key, Deps: deps} }

func mustNew(t testing.TB, pkgs []Package) *Graph {
	t.Helper()
	g, _, err := New(pkgs, Options{})
	require.NoError(t, err)
	return g
}

func TestNewStrictNamesEveryOffender(t *testing.T) {
	t.Parallel()
	pkgs := []Package{
		pk("app", "libfoo", "ghost"),
		pk("libfoo", "libfoo", "zlib"),
		pk("zlib"),
		pk("zlib"),
		pk("tool", "phantom"),
	}
	_, rep, err := New(pkgs, Options{})
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []DepRef{{From: "app", To: "ghost"}, {From: "tool", To: "phantom"}}, rep.UnknownDeps)
	require.Equal(t, []string{"zlib"}, rep.Duplicates)
	require.Equal(t, []string{"libfoo"}, rep.SelfEdges)
	msg := err.Error()
	for _, want := range []string{"app -> ghost", "tool -> phantom", "duplicate key (zlib)", "self-edge (libfoo)"} {
		require.Contains(t, msg, want)
	}
}

func TestNewLenientDropsAndCounts(t *testing.T) {
	t.Parallel()
	pkgs := []Package{
		pk("app", "libfoo", "ghost", "libfoo"),
		pk("libfoo", "libfoo", "zlib"),
		{Key: "zlib", Version: "1"},
		{Key: "zlib", Version: "2"},
	}
	g, rep, err := New(pkgs, Options{Lenient: true})
	require.NoError(t, err)
	require.Len(t, rep.UnknownDeps, 1)
	require.Len(t, rep.Duplicates, 1)
	require.Len(t, rep.SelfEdges, 1)
	require.Equal(t, 1, rep.Repeated)
	require.Equal(t, 3, rep.Packages)
	require.Equal(t, 2, rep.Edges)
	require.Equal(t, "3 packages, 2 edges (dropped 1 unknown dependency, 1 duplicate key, 1 self-edge)", rep.String())
	require.Equal(t, []string{"libfoo"}, g.Deps("app"))
	require.Equal(t, []string{"zlib"}, g.Deps("libfoo"))
	z, ok := g.Package("zlib")
	require.True(t, ok)
	require.Equal(t, "1", z.Version, "lenient mode keeps the first of duplicate keys")
	// The caller's packages are not touched.
	require.Equal(t, []string{"libfoo", "ghost", "libfoo"}, pkgs[0].Deps)
}

func TestNewIgnoresInputOrder(t *testing.T) {
	t.Parallel()
	pkgs := randomPackages(rand.New(rand.NewPCG(1, 2)), 200, 3, true)
	g1 := mustNew(t, pkgs)
	shuffled := shufflePackages(rand.New(rand.NewPCG(3, 4)), pkgs)
	g2 := mustNew(t, shuffled)
	require.Equal(t, g1.Packages(), g2.Packages())
	require.Equal(t, g1.TopoOrder(), g2.TopoOrder())
	require.Equal(t, g1.Layers(), g2.Layers())
	require.Equal(t, g1.SCCs(), g2.SCCs())
}

func TestDirectedViewIsAGonumGraph(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{pk("app", "lib", "zlib"), pk("lib", "zlib"), pk("zlib")})
	d := g.Directed()
	app, _ := g.ID("app")
	lib, _ := g.ID("lib")
	zlib, _ := g.ID("zlib")
	require.True(t, d.HasEdgeFromTo(zlib, lib), "edges run from a dependency to its dependents")
	require.False(t, d.HasEdgeFromTo(lib, zlib))
	require.True(t, d.HasEdgeBetween(lib, zlib))
	require.NotNil(t, d.Edge(lib, app))
	require.Nil(t, d.Edge(app, lib))
	require.Nil(t, d.Node(99))
	require.Equal(t, 2, d.From(zlib).Len())
	require.Equal(t, 2, d.To(app).Len())
	require.Equal(t, 3, d.Nodes().Len())
	sorted, err := topo.Sort(d)
	require.NoError(t, err)
	var keys []string
	for _, n := range sorted {
		keys = append(keys, g.Key(n.ID()))
	}
	require.Equal(t, []string{"zlib", "lib", "app"}, keys)
	require.Equal(t, "", g.Key(-1))
}

func TestSCCsAndCondensation(t *testing.T) {
	t.Parallel()
	// gcc ⇄ glibc is a cycle, as in real distributions; perl joins it through glibc.
	g := mustNew(t, []Package{
		pk("gcc", "glibc", "binutils"),
		pk("glibc", "gcc", "perl"),
		pk("perl", "glibc"),
		pk("binutils"),
		pk("hello", "gcc"),
		pk("a", "b"), pk("b", "a"),
	})
	require.Equal(t, [][]string{{"gcc", "glibc", "perl"}, {"a", "b"}}, g.SCCs())
	require.Equal(t, []string{"gcc", "glibc", "perl"}, g.Cycle("perl"))
	require.Nil(t, g.Cycle("hello"))
	c := g.Condensation()
	require.Len(t, c.Components, 4)
	pos := map[string]int{}
	for i, comp := range c.Components {
		for _, k := range comp {
			pos[k] = i
		}
	}
	for i, deps := range c.Deps {
		for _, d := range deps {
			require.Less(t, d, i, "components come in topological order")
		}
	}
	require.Equal(t, []int{pos["binutils"]}, c.Deps[pos["gcc"]])
	require.Equal(t, []int{pos["gcc"]}, c.Deps[pos["hello"]])
	require.Equal(t, [][]string{{"a", "b", "binutils"}, {"gcc", "glibc", "perl"}, {"hello"}}, g.Layers())
}

func TestLayersAndTopoOrderOnRandomGraphs(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 20; seed++ {
		pkgs := randomPackages(rand.New(rand.NewPCG(seed, 7)), 150, 4, seed%2 == 1)
		g := mustNew(t, pkgs)
		ref := newRef(pkgs)
		up := map[string]map[string]bool{}
		for _, p := range pkgs {
			up[p.Key] = ref.up(p.Key)
		}
		sameCycle := func(a, b string) bool { return up[a][b] && up[b][a] }
		layerOf := map[string]int{}
		for i, l := range g.Layers() {
			require.True(t, slices.IsSorted(l), "layer %d is in key order", i)
			for _, k := range l {
				layerOf[k] = i
			}
		}
		require.Len(t, layerOf, len(pkgs))
		pos := map[string]int{}
		for i, k := range g.TopoOrder() {
			pos[k] = i
		}
		for _, p := range pkgs {
			for _, d := range p.Deps {
				if sameCycle(p.Key, d) {
					require.Equal(t, layerOf[d], layerOf[p.Key], "seed %d: a cycle shares a layer", seed)
					continue
				}
				require.Less(t, layerOf[d], layerOf[p.Key], "seed %d: %s -> %s", seed, p.Key, d)
				require.Less(t, pos[d], pos[p.Key], "seed %d: %s -> %s", seed, p.Key, d)
			}
		}
		// SCCs agree with mutual reachability.
		var want [][]string
		done := map[string]bool{}
		for _, k := range g.Keys() {
			if done[k] {
				continue
			}
			var comp []string
			for _, o := range g.Keys() {
				if sameCycle(k, o) {
					comp = append(comp, o)
					done[o] = true
				}
			}
			if len(comp) > 1 {
				want = append(want, comp)
			}
		}
		got := g.SCCs()
		slices.SortFunc(got, func(a, b []string) int { return cmpStr(a[0], b[0]) })
		slices.SortFunc(want, func(a, b []string) int { return cmpStr(a[0], b[0]) })
		require.Equal(t, want, got, "seed %d", seed)
	}
}

func TestClosuresMatchBruteForce(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		pkgs := randomPackages(rng, 120, 3, seed%2 == 0)
		g := mustNew(t, pkgs)
		ref := newRef(pkgs)
		for range 5 {
			k := pkgs[rng.IntN(len(pkgs))].Key
			rc, err := g.ReverseClosure(k)
			require.NoError(t, err)
			require.Equal(t, sortedKeys(ref.down(k)), rc)
			bc, err := g.BuildClosure(k)
			require.NoError(t, err)
			require.Equal(t, sortedKeys(ref.up(k)), bc)
			require.Equal(t, len(ref.up(k))-1, g.BuildClosureSize(k), "seed %d %s", seed, k)
		}
	}
	g := mustNew(t, []Package{pk("a")})
	_, err := g.ReverseClosure("b")
	var unk *UnknownKeysError
	require.ErrorAs(t, err, &unk)
}

func TestCriticalPathMatchesBruteForce(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 13))
		pkgs := randomPackages(rng, 40, 3, false)
		for i := range pkgs {
			pkgs[i].Cost.BuildSeconds = float64(1 + rng.IntN(100))
		}
		g := mustNew(t, pkgs)
		var keys []string
		for _, p := range pkgs {
			if rng.IntN(3) > 0 {
				keys = append(keys, p.Key)
			}
		}
		secs, chain, err := g.CriticalPath(keys, nil)
		require.NoError(t, err)
		require.Equal(t, bruteLongest(pkgs, keys), secs, "seed %d", seed)
		// The chain is a real dependency chain inside keys and weighs what was reported.
		sum := 0.0
		for i, k := range chain {
			require.Contains(t, keys, k)
			p, _ := g.Package(k)
			sum += p.Cost.BuildSeconds
			if i > 0 {
				require.Contains(t, p.Deps, chain[i-1])
			}
		}
		require.Equal(t, secs, sum)
	}
}

// bruteLongest is the heaviest chain among keys by exhaustive search from every start.
func bruteLongest(pkgs []Package, keys []string) float64 {
	in := map[string]bool{}
	for _, k := range keys {
		in[k] = true
	}
	by := map[string]Package{}
	for _, p := range pkgs {
		by[p.Key] = p
	}
	var best func(k string) float64
	best = func(k string) float64 {
		m := 0.0
		for _, d := range by[k].Deps {
			if in[d] {
				m = max(m, best(d))
			}
		}
		return m + by[k].Cost.BuildSeconds
	}
	out := 0.0
	for _, k := range keys {
		out = max(out, best(k))
	}
	return out
}

func TestCriticalPathIgnoresCycleEdges(t *testing.T) {
	t.Parallel()
	pkgs := []Package{
		{Key: "a", Deps: []string{"b", "base"}, Cost: CostHints{BuildSeconds: 10}},
		{Key: "b", Deps: []string{"a"}, Cost: CostHints{BuildSeconds: 20}},
		{Key: "base", Cost: CostHints{BuildSeconds: 5}},
		{Key: "top", Deps: []string{"a", "b"}, Cost: CostHints{BuildSeconds: 1}},
	}
	g := mustNew(t, pkgs)
	secs, chain, err := g.CriticalPath(g.Keys(), nil)
	require.NoError(t, err)
	// base → a → top is 16; b → top is 21: the a–b cycle is not a chain of 30.
	require.Equal(t, 21.0, secs)
	require.Equal(t, []string{"b", "top"}, chain)
}

func TestSubgraph(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{pk("app", "lib", "zlib"), pk("lib", "zlib"), pk("zlib")})
	sub, err := g.Subgraph([]string{"app", "lib"})
	require.NoError(t, err)
	require.Equal(t, []Package{pk("app", "lib"), pk("lib")}, sub)
	_, err = g.Subgraph([]string{"nope"})
	require.Error(t, err)
}

func TestRebuildSet(t *testing.T) {
	t.Parallel()
	old := mustNew(t, []Package{
		{Key: "a", Drv: "a1"}, {Key: "b", Drv: "b1"}, {Key: "c", Drv: "c1"}, {Key: "gone", Drv: "g1"},
	})
	new := mustNew(t, []Package{
		{Key: "a", Drv: "a1"}, {Key: "b", Drv: "b2"}, {Key: "c", Drv: "c2"}, {Key: "added", Drv: "x1"},
	})
	r := RebuildSet(old, new)
	require.Equal(t, []string{"b", "c"}, r.Changed)
	require.Equal(t, []string{"added"}, r.Added)
	require.Equal(t, []string{"gone"}, r.Removed)
	require.Equal(t, []string{"added", "b", "c"}, r.Keys())
	same := RebuildSet(old, old)
	require.Empty(t, same.Keys())
	require.Empty(t, same.Removed)
}

func TestResolveAndSuggest(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{
		{Key: "h1-glibc-2.31", Name: "glibc", Attr: "glibc"},
		{Key: "h2-glibc-2.30", Name: "glibc"},
		{Key: "h3-perl", Name: "perl"},
		{Key: "h4-perl", Name: "perl"},
		{Key: "openssl", Name: "openssl"},
	})
	k, err := g.Resolve("glibc")
	require.NoError(t, err)
	require.Equal(t, "h1-glibc-2.31", k, "an attribute path wins over a shared name")
	k, err = g.Resolve("openssl")
	require.NoError(t, err)
	require.Equal(t, "openssl", k)
	_, err = g.Resolve("perl")
	var amb *AmbiguousNameError
	require.ErrorAs(t, err, &amb)
	require.Equal(t, []string{"h3-perl", "h4-perl"}, amb.Candidates)
	_, err = g.ResolveAll([]string{"opnssl", "glibcc", "openssl"})
	var unk *UnknownKeysError
	require.ErrorAs(t, err, &unk)
	require.Equal(t, []string{"opnssl", "glibcc"}, unk.Keys)
	require.Equal(t, []string{"openssl"}, unk.Suggestions["opnssl"])
	require.Equal(t, "glibc", unk.Suggestions["glibcc"][0])
	require.Contains(t, err.Error(), `unknown package "opnssl" (did you mean: openssl?)`)
	require.Empty(t, g.Suggest("zzzzzzzz", 5))
}

func TestSuggestOnDebian(t *testing.T) {
	t.Parallel()
	g := loadData(t, debianFile)
	sug := g.Suggest("opnssl", MaxSuggestions)
	require.Equal(t, "openssl", sug[0])
	require.LessOrEqual(t, len(g.Suggest("lib", MaxSuggestions)), MaxSuggestions)
	require.Equal(t, "glibc", g.Suggest("glibcc", MaxSuggestions)[0])
}

func TestValidationErrorIsWrappedByLoad(t *testing.T) {
	t.Parallel()
	_, _, err := Load(stringsReader(`{"name":"a","deps":["b"]}`), ReadOptions{}, Options{})
	var verr *ValidationError
	require.True(t, errors.As(err, &verr))
	require.Contains(t, err.Error(), "a -> b")
}

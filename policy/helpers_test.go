package policy_test

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crestwaves/crest/internal/shareddata"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/graph"
)

// The recorded graphs of ../shared/data (see its README).
const (
	debianFile = "debian-bookworm-amd64-graph.jsonl.gz"
	appsFile   = "nixpkgs-2020-07-26-subset-apps.jsonl.gz"
	helloFile  = "nixpkgs-2020-07-26-subset-hello.jsonl"
)

// dataPath finds a recorded graph of ../shared/data.
func dataPath(tb testing.TB, name string) string { return shareddata.For(tb, name) }

var loaded sync.Map // file name → func() (*graph.Graph, error)

// loadData loads a recorded graph once per test binary: the machine is small.
func loadData(tb testing.TB, name string) *graph.Graph {
	tb.Helper()
	p := dataPath(tb, name)
	f, _ := loaded.LoadOrStore(name, sync.OnceValues(func() (*graph.Graph, error) {
		fh, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		g, _, err := graph.Load(fh, graph.ReadOptions{}, graph.Options{})
		return g, err
	}))
	g, err := f.(func() (*graph.Graph, error))()
	require.NoError(tb, err)
	return g
}

// mkGraph builds a small graph from "pkg:dep,dep" specs; every package must be listed.
func mkGraph(tb testing.TB, specs ...string) *graph.Graph {
	tb.Helper()
	var pkgs []graph.Package
	for _, s := range specs {
		k, deps, _ := strings.Cut(s, ":")
		p := graph.Package{Key: k, Name: k}
		if deps != "" {
			p.Deps = strings.Split(deps, ",")
		}
		pkgs = append(pkgs, p)
	}
	g, _, err := graph.New(pkgs, graph.Options{})
	require.NoError(tb, err)
	return g
}

// bfsClosure is the build closure of roots computed independently of graph's closures:
// a plain breadth-first walk over Deps, with each member's distance from the nearest root.
func bfsClosure(g *graph.Graph, roots []string) map[string]int {
	dist := make(map[string]int)
	var queue []string
	for _, r := range roots {
		if _, ok := dist[r]; !ok {
			dist[r] = 0
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, d := range g.Deps(k) {
			if _, ok := dist[d]; !ok {
				dist[d] = dist[k] + 1
				queue = append(queue, d)
			}
		}
	}
	return dist
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

package planview

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/crestwaves/crest/internal/shareddata"

	"github.com/crestwaves/crest/graph"
)

// repoRoot is the directory holding go.mod.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s", wd)
		}
	}
}

// dataPath finds a recorded graph of ../shared/data.
func dataPath(tb testing.TB, name string) string { return shareddata.For(tb, name) }

var loaded sync.Map

// loadData loads a recorded graph once per test binary.
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
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

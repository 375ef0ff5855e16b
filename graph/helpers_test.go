package graph

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The recorded graphs of ../shared/data (see its README).
const (
	debianFile = "debian-bookworm-amd64-graph.jsonl.gz"
	appsFile   = "nixpkgs-2020-07-26-subset-apps.jsonl.gz"
	helloFile  = "nixpkgs-2020-07-26-subset-hello.jsonl"
)

// dataPath finds a recorded graph: $CREST_DATA, else shared/data beside the repository.
// A missing file fails the test: these graphs are the point of the tests, not an extra.
func dataPath(tb testing.TB, name string) string {
	tb.Helper()
	dir := os.Getenv("CREST_DATA")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			tb.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(filepath.Dir(d), "shared", "data")
				break
			}
			if filepath.Dir(d) == d {
				tb.Fatalf("no go.mod above %s", wd)
			}
		}
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("recorded graph %s: %v (set CREST_DATA to the directory holding it)", name, err)
	}
	return p
}

var loaded sync.Map // file name → func() (*Graph, error)

// loadData loads a recorded graph once per test binary: the Debian graph is shared by many
// tests and the machine is small.
func loadData(tb testing.TB, name string) *Graph {
	tb.Helper()
	f, _ := loaded.LoadOrStore(name, sync.OnceValues(func() (*Graph, error) {
		return loadFile(tb, name)
	}))
	g, err := f.(func() (*Graph, error))()
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func loadFile(tb testing.TB, name string) (*Graph, error) {
	p := dataPath(tb, name)
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	g, _, err := Load(fh, ReadOptions{}, Options{})
	return g, err
}

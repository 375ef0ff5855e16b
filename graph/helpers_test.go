package graph

import (
	"os"
	"sync"
	"testing"

	"github.com/crestwaves/crest/internal/shareddata"
)

// The recorded graphs of ../shared/data (see its README).
const (
	debianFile = "debian-bookworm-amd64-graph.jsonl.gz"
	appsFile   = "nixpkgs-2020-07-26-subset-apps.jsonl.gz"
	helloFile  = "nixpkgs-2020-07-26-subset-hello.jsonl"
)

// dataPath finds a recorded graph of ../shared/data.
func dataPath(tb testing.TB, name string) string { return shareddata.For(tb, name) }

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

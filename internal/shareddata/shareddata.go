package shareddata

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Recorded graphs (see ../shared/data/README.md).
const (
	Debian       = "debian-bookworm-amd64-graph.jsonl.gz"
	NixpkgsApps  = "nixpkgs-2020-07-26-subset-apps.jsonl.gz"
	NixpkgsHello = "nixpkgs-2020-07-26-subset-hello.jsonl"
	Jedi         = "nixpkgs-2023-jedi-nixtract-graph.jsonl"
)

// Path returns where the recorded file name is, or an error saying how to point at it.
func Path(name string) (string, error) {
	if dir := os.Getenv("CREST_DATA"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("recorded graph %s: %w (CREST_DATA=%s)", name, err, dir)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "shared", "data", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("recorded graph %s not found in shared/data here or above: set CREST_DATA to the directory holding it", name)
		}
		dir = parent
	}
}

// For is Path for tests: a missing file fails the test with what to set.
func For(tb testing.TB, name string) string {
	tb.Helper()
	p, err := Path(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

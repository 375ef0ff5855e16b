package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/graph"
)

// toy is a small graph with a cycle: a ← b ← c, c ↔ d, e alone.
var toy = []graph.Package{
	{Key: "a", Name: "a"},
	{Key: "b", Name: "b", Deps: []string{"a"}},
	{Key: "c", Name: "c", Deps: []string{"b", "d"}},
	{Key: "d", Name: "d", Deps: []string{"c"}},
	{Key: "e", Name: "e", Deps: []string{"nosuch"}},
}

func TestDeriveReplicatesTheShape(t *testing.T) {
	t.Parallel()
	col, err := Derive(toy, 12, "toy")
	require.NoError(t, err)
	require.Len(t, col.Packages, 12)
	g, _, err := graph.New(col.Packages, graph.Options{})
	require.NoError(t, err, "dependency-closed, no unknown keys")
	require.Equal(t, 3, col.Layers, "the real depth, whatever the copies")
	require.Equal(t, []string{"a~2"}, g.Deps("b~2"))
	require.ElementsMatch(t, []string{"b~2", "d~2"}, g.Deps("c~2"))
	require.True(t, g.Has("a~3") && g.Has("e~3"), "a part copy starts at the bottom layer")
	require.False(t, g.Has("b~3"))
	require.Contains(t, col.Source, "replicated 2 times")
}

func TestDeriveCutsACycleAtTheBorder(t *testing.T) {
	t.Parallel()
	col, err := Derive(toy, 4, "toy") // layers: [a e] [b] [c d]: keeps a e b c, not d
	require.NoError(t, err)
	g, _, err := graph.New(col.Packages, graph.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, g.Deps("c"))
	require.Equal(t, "a", col.Update)
}

func TestEvaluatorKeysDerivationsOnTheVersionFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ev := Evaluator{Packages: toy}
	for _, v := range []string{"v1", "v2"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, VersionFile), []byte(v+"\n"), 0o644))
		pkgs, err := ev.Evaluate(context.Background(), dir, System)
		require.NoError(t, err)
		require.Equal(t, "/nix/store/bench-"+v+"-c.drv", pkgs[2].Drv)
		require.Equal(t, System, pkgs[2].System)
	}
	require.Empty(t, toy[2].Drv, "the collection itself is left alone")
}

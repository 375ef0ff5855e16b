package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
)

// TestGCKeepsTheNewestTag: two tags' outputs are rooted in a Nix store of their own (as the
// tag activities root them); `crest gc --keep-tags 1 --collect` releases the older tag's
// roots and collects garbage: the newest tag's output stays valid, the older tag's is
// deleted. Running it again releases nothing.
func TestGCKeepsTheNewestTag(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	dsn := testenv.DSN(t, false)
	st, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	_, err = st.UpsertCollection(ctx, store.Collection{Name: "demo", Remote: "/srv/demo.git"})
	require.NoError(t, err)
	repo, err := demo.Create(ctx, filepath.Join(dir, "demo"))
	require.NoError(t, err)
	checkout := filepath.Join(dir, "checkout")
	require.NoError(t, repo.Export(ctx, demo.MainBranch, checkout))

	storeRoot := filepath.Join(dir, "nix")
	n, err := nix.New(nix.Config{StoreRoot: storeRoot})
	require.NoError(t, err, "real Nix is needed: apt-get install nix-bin")
	pkgs, err := n.Evaluate(ctx, checkout, "")
	require.NoError(t, err)
	outputs := map[string]string{}
	for _, p := range pkgs {
		if p.Key == "zlib" || p.Key == "libyaml" {
			res, err := n.Realise(ctx, p.Drv, nix.RealiseOptions{})
			require.NoError(t, err)
			outputs[p.Key] = res.Outputs[0]
		}
	}
	roots := filepath.Join(dir, "data", "gcroots", "demo")
	for _, tag := range []struct{ name, pkg string }{{"wave-1-1", "zlib"}, {"wave-1-2", "libyaml"}} {
		r, err := n.AddRoots(ctx, filepath.Join(roots, tag.name), []string{outputs[tag.pkg]})
		require.NoError(t, err)
		require.NoError(t, st.RecordTagRoot(ctx, store.TagRoot{Collection: "demo", Tag: tag.name, Kind: store.RootFinished,
			Dir: filepath.Join(roots, tag.name), Outputs: len(r.Rooted)}))
	}

	a := &app{cfg: &Config{DataDir: filepath.Join(dir, "data"), Database: DatabaseConfig{URL: dsn},
		Nix: NixConfig{StoreRoot: storeRoot, BuilderPath: "/usr/bin:/bin"}}}
	gc := func(args ...string) string {
		t.Helper()
		cmd := newGCCmd(a)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		require.NoError(t, cmd.ExecuteContext(ctx), out.String())
		return out.String()
	}
	valid := func(pkg string) bool {
		t.Helper()
		invalid, err := n.Invalid(ctx, []string{outputs[pkg]})
		require.NoError(t, err)
		return len(invalid) == 0
	}

	out := gc("--keep-tags", "1", "--dry-run")
	require.Regexp(t, `wave-1-2\s+finished\s+1\s+\S+ \S+\s+keep\s+one of the 1 newest finished tags`, out)
	require.Regexp(t, `wave-1-1\s+finished\s+1\s+\S+ \S+\s+release\s+older than the 1 newest finished tags`, out)
	require.Contains(t, out, "would release the roots of 1 tags (1 outputs)")
	require.DirExists(t, filepath.Join(roots, "wave-1-1"), "a dry run releases nothing")

	out = gc("--keep-tags", "1", "--collect")
	require.Contains(t, out, "released the roots of 1 tags (1 outputs)")
	require.Regexp(t, `nix-store --gc: \d+ store paths deleted`, out)
	require.True(t, valid("libyaml"), "the newest tag's output survives the collection")
	require.False(t, valid("zlib"), "the older tag's output was collected")
	_, err = os.Stat(filepath.Join(roots, "wave-1-1"))
	require.ErrorIs(t, err, os.ErrNotExist)
	kept, err := st.TagRoots(ctx, "demo")
	require.NoError(t, err)
	require.Len(t, kept, 1)
	require.Equal(t, "wave-1-2", kept[0].Tag)

	require.Contains(t, gc("--keep-tags", "1"), "released nothing: every tag of demo is kept")
	cmd := newGCCmd(a)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(nil)
	require.ErrorContains(t, cmd.ExecuteContext(ctx), "say what to keep")
	cmd.SetArgs([]string{"--keep-tags", "0"})
	require.ErrorContains(t, cmd.ExecuteContext(ctx), "keep at least the newest finished tag")
}

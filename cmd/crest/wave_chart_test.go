package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
)

// demoStore opens a fresh database of this test with the demo collection registered; it
// returns the store, the collection's ID and the database's URL.
func demoStore(t *testing.T) (*store.Store, int64, string) {
	t.Helper()
	dsn := testenv.DSN(t, false)
	st, err := store.Open(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	col, err := st.UpsertCollection(t.Context(), store.Collection{Name: "demo", Remote: "/srv/demo.git"})
	require.NoError(t, err)
	return st, col, dsn
}

// chartEnv is a store holding the demo collection's wave-1, one minor wave with a failure
// and a green build, and an app pointing at it.
func chartEnv(t *testing.T) *app {
	t.Helper()
	ctx := t.Context()
	st, col, dsn := demoStore(t)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", json.RawMessage(`[{"package":"libcore","ref":"r"}]`))
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, "s", 0, []store.RoundRow{{Package: "libcore"}, {Package: "calc"}}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "a", MinorWaveID: m.ID, System: "s", Package: "libcore", Status: store.StatusFailed}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "b", MinorWaveID: m.ID, System: "s", Package: "calc", Status: store.StatusPassed}))
	return &app{cfg: &Config{DataDir: t.TempDir(), Database: DatabaseConfig{URL: dsn}}}
}

func runWave(t *testing.T, a *app, args ...string) (string, string, error) {
	t.Helper()
	cmd := newWaveCmd(a)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func TestWaveChartDrawsEveryPicture(t *testing.T) {
	t.Parallel()
	a := chartEnv(t)
	dir := t.TempDir()

	svg := filepath.Join(dir, "burndown.svg")
	_, progress, err := runWave(t, a, "chart", "wave-1", "-o", svg)
	require.NoError(t, err)
	require.Contains(t, progress, "wrote "+svg+": the burndown of wave-1 (svg)")
	raw, err := os.ReadFile(svg)
	require.NoError(t, err)
	for _, want := range []string{"Remaining builds of wave-1", "wave-1 (all minor waves)", "wave-1-1", "@font-face"} {
		require.True(t, bytes.Contains(raw, []byte(want)), "the SVG has %q", want)
	}

	for _, kind := range []string{"failures", "gantt"} {
		file := filepath.Join(dir, kind+".png")
		_, _, err := runWave(t, a, "chart", "wave-1", "--kind", kind, "-o", file)
		require.NoError(t, err, kind)
		f, err := os.Open(file)
		require.NoError(t, err)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err, "%s: a PNG, from the file's extension", kind)
		require.Equal(t, 945, img.Bounds().Dx())
	}

	out, _, err := runWave(t, a, "chart", "wave-1", "--kind", "failures", "--format", "png", "-o", "-")
	require.NoError(t, err)
	_, err = png.Decode(strings.NewReader(out))
	require.NoError(t, err, "-o - writes the picture to stdout")
}

func TestWaveChartRefusesBadInput(t *testing.T) {
	t.Parallel()
	a := chartEnv(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"chart", "wave-9", "-o", filepath.Join(dir, "x.svg")}, "wave-9 of demo: not found"},
		{[]string{"chart", "wave-1", "--format", "gif", "-o", filepath.Join(dir, "x.gif")}, `picture format "gif": want svg or png`},
		{[]string{"chart", "wave-1", "--kind", "pie", "-o", filepath.Join(dir, "x.svg")}, `--kind "pie": want burndown, failures, gantt`},
		{[]string{"chart", "wave-1"}, "no file to write: give -o FILE"},
		{[]string{"chart", "wave-1-1", "-o", filepath.Join(dir, "x.svg")}, "wave-1-1 is a minor wave: give its major wave"},
		{[]string{"chart", "wave-1", "-o", filepath.Join(dir, "missing", "x.svg")}, "write the burndown of wave-1: open " + filepath.Join(dir, "missing", "x.svg")},
		{[]string{"chart", "nope", "-o", filepath.Join(dir, "x.svg")}, `"nope" is not a wave name`},
	} {
		_, _, err := runWave(t, a, c.args...)
		require.ErrorContains(t, err, c.want, "%v", c.args)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "a refused chart writes no file")
}

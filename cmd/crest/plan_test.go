package main

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crestwaves/crest/internal/shareddata"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/graph/planview"
)

// planData finds a recorded graph of ../shared/data.
func planData(t *testing.T, name string) string { return shareddata.For(t, name) }

// runPlanCmd runs `crest plan` with args and returns stdout and stderr.
func runPlanCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newPlanCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestPlanCmdFormats(t *testing.T) {
	t.Parallel()
	hello := planData(t, "nixpkgs-2020-07-26-subset-hello.jsonl")
	args := []string{"--graph", hello, "--update", "pcre", "--update", "attr", "--group", "gnused,hello", "--wave", "9", "--builders", "4"}

	out, progress, err := runPlanCmd(t, args...)
	require.NoError(t, err)
	require.Contains(t, out, "Major wave 9: 4 root updates in 3 minor waves")
	require.Contains(t, out, "gnused-4.8, hello-2.10 (grouped by hand)")
	require.Contains(t, out, "rebuild the world per update")
	require.Contains(t, progress, "loaded 93 packages, 368 edges")
	require.Contains(t, progress, "planned 3 minor waves")

	out, _, err = runPlanCmd(t, append(args, "--format", "json", "-q")...)
	require.NoError(t, err)
	require.NoError(t, planview.ValidateSchema([]byte(out)))
	require.Contains(t, out, `"id": "wave-9-3"`)

	out, _, err = runPlanCmd(t, append(args, "--format", "dot")...)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, `digraph "wave-9" {`))
	require.Contains(t, out, `"wave-9-2" -> "wave-9-3";`)

	svg := filepath.Join(t.TempDir(), "plan.svg")
	out, progress, err = runPlanCmd(t, append(args, "--format", "svg", "-o", svg)...)
	require.NoError(t, err)
	require.Empty(t, out, "with -o nothing goes to stdout")
	require.Contains(t, progress, "wrote "+svg)
	raw, err := os.ReadFile(svg)
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(raw, new(struct{})))
	require.True(t, strings.Contains(string(raw), " from the start</text>"), "the schedule as a Gantt chart")

	pngFile := filepath.Join(t.TempDir(), "plan.png")
	_, _, err = runPlanCmd(t, append(args, "--format", "png", "-o", pngFile, "-q")...)
	require.NoError(t, err)
	f, err := os.Open(pngFile)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, 945, img.Bounds().Dx(), "16 cm at 150 dpi")
}

func TestPlanCmdDebianGlibcOpenssl(t *testing.T) {
	t.Parallel()
	deb := planData(t, "debian-bookworm-amd64-graph.jsonl.gz")
	dir := t.TempDir()
	base := []string{"--graph", deb, "--update", "glibc", "--update", "openssl"}

	out, progress, err := runPlanCmd(t, append(base, "--format", "table")...)
	require.NoError(t, err)
	require.Contains(t, progress, "loaded 34288 packages, 246897 edges")
	require.Contains(t, out, "Major wave 1: 2 root updates in 1 minor wave; 34,272 builds")
	require.Contains(t, out, "wave-1-1    -      glibc, openssl (dependency cycle)  34,272")
	require.Contains(t, out, "one staging batch")

	jsonFile := filepath.Join(dir, "plan.json")
	_, _, err = runPlanCmd(t, append(base, "--format", "json", "-o", jsonFile, "-q")...)
	require.NoError(t, err)
	raw, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	require.NoError(t, planview.ValidateSchema(raw))

	svgFile := filepath.Join(dir, "plan.svg")
	_, _, err = runPlanCmd(t, append(base, "--format", "svg", "-o", svgFile, "-q")...)
	require.NoError(t, err)
	raw, err = os.ReadFile(svgFile)
	require.NoError(t, err)
	require.Contains(t, string(raw), "34,272 builds in 1 minor wave")
}

func TestPlanCmdDidYouMean(t *testing.T) {
	t.Parallel()
	hello := planData(t, "nixpkgs-2020-07-26-subset-hello.jsonl")
	_, _, err := runPlanCmd(t, "--graph", hello, "--update", "glibcc", "--update", "helo", "-q")
	require.ErrorContains(t, err, `update: unknown package "glibcc" (did you mean: glibc`)
	require.ErrorContains(t, err, `unknown package "helo" (did you mean: hello`)
	_, _, err = runPlanCmd(t, "--graph", hello, "--update", "hello", "--locked", "hello", "-q")
	require.ErrorContains(t, err, "cannot update")
}

func TestPlanCmdRejectsBadInput(t *testing.T) {
	t.Parallel()
	hello := planData(t, "nixpkgs-2020-07-26-subset-hello.jsonl")
	_, _, err := runPlanCmd(t, "--graph", hello, "--update", "hello", "--format", "pdf")
	require.ErrorContains(t, err, `format "pdf": want table, json, dot, svg or png`)
	_, _, err = runPlanCmd(t, "--update", "hello")
	require.ErrorContains(t, err, `"graph" not set`)
	_, _, err = runPlanCmd(t, "--graph", hello)
	require.ErrorContains(t, err, "nothing to plan")

	broken := filepath.Join(t.TempDir(), "broken.jsonl")
	require.NoError(t, os.WriteFile(broken, []byte(`{"name":"a","deps":["ghost"]}`+"\n"+`{"name":"b","deps":["a"]}`+"\n"), 0o644))
	_, _, err = runPlanCmd(t, "--graph", broken, "--update", "a", "-q")
	require.ErrorContains(t, err, "a -> ghost")
	require.ErrorContains(t, err, "--lenient")
	out, progress, err := runPlanCmd(t, "--graph", broken, "--update", "a", "--lenient")
	require.NoError(t, err)
	require.Contains(t, progress, "dropped 1 unknown dependency")
	require.Contains(t, out, "2 builds")
}

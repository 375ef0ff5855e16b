package graft_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/graft"
)

// nixOptions are those Crest passes to single-user Nix as root (activities/nix).
var nixOptions = []graft.Option{{Name: "sandbox", Value: "false"}, {Name: "substituters", Value: ""}, {Name: "build-users-group", Value: ""}}

func nixArgs(args ...string) []string {
	for _, o := range nixOptions {
		args = append(args, "--option", o.Name, o.Value)
	}
	return args
}

// run runs a Nix command, failing the test on error, and returns stdout and stderr.
func run(t *testing.T, name string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(name, nixArgs(args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s %v: %s", name, args, stderr.String())
	return strings.TrimSpace(stdout.String()), stderr.String()
}

// fixtures instantiates testdata/fixture.nix: attribute → derivation and output path.
type fixtures struct {
	t     *testing.T
	args  []string
	drvs  map[string]string
	paths map[string]string
}

func (f *fixtures) drv(attr string) string {
	if d, ok := f.drvs[attr]; ok {
		return d
	}
	d, _ := run(f.t, "nix-instantiate", append([]string{"testdata/fixture.nix", "-A", attr}, f.args...)...)
	f.drvs[attr] = d
	out, _ := run(f.t, "nix-store", "-q", "--outputs", d)
	f.paths[attr] = out
	return d
}

func (f *fixtures) path(attr string) string { f.drv(attr); return f.paths[attr] }

var building = regexp.MustCompile(`building '(/nix/store/[^']+\.drv)'`)

// realise builds derivations and returns the ones Nix built from scratch.
func realise(t *testing.T, drvs ...string) []string {
	t.Helper()
	_, stderr := run(t, "nix-store", append([]string{"--realise"}, drvs...)...)
	var built []string
	for _, m := range building.FindAllStringSubmatch(stderr, -1) {
		built = append(built, m[1])
	}
	slices.Sort(built)
	return built
}

func valid(path string) bool {
	return exec.Command("nix-store", nixArgs("--check-validity", path)...).Run() == nil
}

// TestGraftOnDemoCollection is the proof with real Nix: a program built against libcrypto
// 2.5.0 is grafted onto a patched libcrypto 2.5.1 without being rebuilt, and then refers to
// and runs with the patched library; unsafe grafts are refused with their reasons, and a
// package that does not refer to libcrypto needs no graft.
func TestGraftOnDemoCollection(t *testing.T) {
	if _, err := exec.LookPath("nix-store"); err != nil {
		t.Fatalf("Nix is required for these tests (apt-get install nix-bin, run as root): %v", err)
	}
	ctx := context.Background()
	demo, err := filepath.Abs("../../testdata/demo")
	require.NoError(t, err)
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	system, _ := run(t, "nix-instantiate", "--eval", "--json", "-E", "builtins.currentSystem")
	system, err = strconv.Unquote(system)
	require.NoError(t, err)
	f := &fixtures{t: t, drvs: map[string]string{}, paths: map[string]string{},
		args: []string{"--arg", "demo", demo, "--argstr", "nonce", nonce, "--argstr", "system", system}}
	n := graft.Nix{Options: nixOptions}

	// The tag: libcrypto 2.5.0 and a program using it, built (or already valid).
	realise(t, f.drv("libcrypto"), f.drv("backup"), f.drv("embedder"), f.drv("demoBackup"), f.drv("demoHello"))
	oldLib, newLib, backup := f.path("libcrypto"), f.path("patched"), f.path("backup")
	refs, err := n.References(ctx, backup)
	require.NoError(t, err)
	require.Contains(t, refs, oldLib)
	out, err := exec.Command(filepath.Join(backup, "bin", "backup")).Output()
	require.NoError(t, err)
	require.Equal(t, "backup: checksums by libcrypto 2.5.0\n", string(out))

	// The patch: libcrypto is the one package built from source...
	start := time.Now()
	built := realise(t, f.drv("patched"))
	require.Equal(t, []string{f.drv("patched")}, built)

	// ... and the dependent is grafted onto it.
	v, err := n.Check(ctx, graft.Graft{Package: "backup", Path: backup,
		Replacements: []graft.Replacement{{Old: oldLib, New: newLib}}})
	require.NoError(t, err)
	require.Equal(t, graft.ActionGraft, v.Action, v.Reason)
	dir := t.TempDir()
	require.NoError(t, graft.WriteExpression(dir, []graft.Graft{v.Graft}))
	drvs, err := n.Instantiate(ctx, dir, system, "/usr/bin:/bin")
	require.NoError(t, err)
	require.Len(t, drvs, 1)
	// A list of several systems' grafts gives each system its own.
	other := v.Graft
	other.System = "i686-linux"
	mine := v.Graft
	mine.System = system
	both := t.TempDir()
	require.NoError(t, graft.WriteExpression(both, []graft.Graft{other, mine}))
	for sys, want := range map[string]int{system: 1, "i686-linux": 1, "aarch64-darwin": 0} {
		got, err := n.Instantiate(ctx, both, sys, "/usr/bin:/bin")
		require.NoError(t, err)
		require.Len(t, got, want, sys)
	}
	mineDrvs, err := n.Instantiate(ctx, both, system, "/usr/bin:/bin")
	require.NoError(t, err)
	require.Equal(t, drvs["backup"], mineDrvs["backup"], "the same graft as from a list of one system's")
	require.ErrorContains(t, graft.WriteExpression(both, []graft.Graft{mine, mine}), "backup is listed twice")

	built = realise(t, drvs["backup"])
	require.Equal(t, []string{drvs["backup"]}, built, "only the graft derivation is built")
	grafted, err := n.Realise(ctx, drvs["backup"])
	require.NoError(t, err)
	t.Logf("patched libcrypto built and backup grafted in %v: %s", time.Since(start).Round(time.Millisecond), grafted)

	// The grafted output refers to the new library and not the old one, and runs with it.
	require.NotEqual(t, backup, grafted)
	require.Equal(t, len(backup), len(grafted))
	refs, err = n.References(ctx, grafted)
	require.NoError(t, err)
	require.Contains(t, refs, newLib)
	require.NotContains(t, refs, oldLib)
	require.NotContains(t, refs, backup, "the graft does not keep the original alive")
	out, err = exec.Command(filepath.Join(grafted, "bin", "backup")).Output()
	require.NoError(t, err)
	require.Equal(t, "backup: checksums by libcrypto 2.5.1, fixes CVE-2026-0001\n", string(out))
	out, err = exec.Command(filepath.Join(grafted, "bin", "backup"), "--version").Output()
	require.NoError(t, err)
	require.Equal(t, "backup 1.2.0\n", string(out), "the grafted program finds its own files at its new path")

	// backup was not rebuilt: the grafted output's deriver is the graft, and backup built
	// from source against the patched library does not exist.
	deriver, _ := run(t, "nix-store", "-q", "--deriver", grafted)
	require.Equal(t, drvs["backup"], deriver)
	require.False(t, valid(f.path("backupRebuilt")), "backup was rebuilt from source")

	// nix-build of the grafts file reproduces the same output.
	again, _ := run(t, "nix-build", filepath.Join(dir, "grafts.nix"), "-A", "backup", "--no-out-link",
		"--argstr", "system", system)
	require.Equal(t, grafted, again)

	// Unsafe grafts are refused with their reasons.
	_, err = n.Check(ctx, graft.Graft{Package: "backup", Path: backup,
		Replacements: []graft.Replacement{{Old: oldLib, New: f.path("patchedLonger")}}})
	var unsafe *graft.UnsafeError
	require.True(t, errors.As(err, &unsafe), "%v", err)
	require.Equal(t, graft.RuleNameLength, unsafe.Rule)
	require.Contains(t, err.Error(), "graft of backup refused: ")
	require.Contains(t, err.Error(), "-libcrypto-2.5.0 and ")
	require.Contains(t, err.Error(), "-libcrypto-2.5.10 differ in length (48 and 49 bytes)")

	_, err = n.Check(ctx, graft.Graft{Package: "vendored", Path: f.path("embedder"),
		Replacements: []graft.Replacement{{Old: oldLib, New: newLib}}})
	require.True(t, errors.As(err, &unsafe), "%v", err)
	require.Equal(t, graft.RuleEmbedded, unsafe.Rule)
	require.Contains(t, err.Error(), "vendored-1.0.0/lib/libcrypto-vendored.so is a copy of libcrypto-2.5.0/lib/libcrypto.so")

	// The demo's hello does not use libcrypto and refers to nothing of it: a graft would
	// change nothing, so there is none. The demo's own backup refers to it at run time.
	v, err = n.Check(ctx, graft.Graft{Package: "hello", Path: f.path("demoHello"),
		Replacements: []graft.Replacement{{Old: oldLib, New: newLib}}})
	require.NoError(t, err)
	require.Equal(t, graft.ActionSkip, v.Action)
	require.Contains(t, v.Reason, "does not refer to "+filepath.Base(oldLib))
	v, err = n.Check(ctx, graft.Graft{Package: "backup", Path: f.path("demoBackup"),
		Replacements: []graft.Replacement{{Old: oldLib, New: newLib}}})
	require.NoError(t, err)
	require.Equal(t, graft.ActionGraft, v.Action, v.Reason)
}

// TestGraftsNixRefusesLengths: the expression itself refuses a replacement of another
// length, so that a hand-written grafts.json cannot corrupt an output.
func TestGraftsNixRefusesLengths(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, graft.WriteExpression(dir, []graft.Graft{{Package: "p", Path: "/nix/store/00000000000000000000000000000000-p-1",
		Replacements: []graft.Replacement{{Old: "/nix/store/00000000000000000000000000000000-a-1", Graft: "q"}}},
		{Package: "q", Path: "/nix/store/00000000000000000000000000000000-q-10", Replacements: []graft.Replacement{}}}))
	cmd := exec.Command("nix-instantiate", nixArgs("--eval", "--strict", "-E",
		"(import "+filepath.Join(dir, "grafts.nix")+" { }).p.rewrites")...)
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "differ in length")
	require.Error(t, graft.WriteExpression(dir, []graft.Graft{{Package: "p"}, {Package: "p"}}), "listed twice")
	_, err = os.Stat(filepath.Join(dir, "graft.sh"))
	require.NoError(t, err)
}

// TestGraftChain grafts a program that refers to libcrypto only through a library: the
// library is grafted onto the patched libcrypto, and the program onto the grafted library,
// in one grafts file.
func TestGraftChain(t *testing.T) {
	ctx := context.Background()
	demo, err := filepath.Abs("../../testdata/demo")
	require.NoError(t, err)
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	f := &fixtures{t: t, drvs: map[string]string{}, paths: map[string]string{},
		args: []string{"--arg", "demo", demo, "--argstr", "nonce", nonce}}
	n := graft.Nix{Options: nixOptions}
	realise(t, f.drv("browser"), f.drv("patched"))
	oldLib, newLib, tls, browser := f.path("libcrypto"), f.path("patched"), f.path("tls"), f.path("browser")

	var grafts []graft.Graft
	for _, g := range []graft.Graft{
		{Package: "libtls", Path: tls, Replacements: []graft.Replacement{{Old: oldLib, New: newLib}}},
		{Package: "browser", Path: browser, Replacements: []graft.Replacement{{Old: oldLib, New: newLib}, {Old: tls, Graft: "libtls"}}},
	} {
		v, err := n.Check(ctx, g)
		require.NoError(t, err)
		require.Equal(t, graft.ActionGraft, v.Action, v.Reason)
		grafts = append(grafts, v.Graft)
	}
	require.Len(t, grafts[1].Replacements, 1, "browser does not refer to libcrypto itself")

	dir := t.TempDir()
	require.NoError(t, graft.WriteExpression(dir, grafts))
	drvs, err := n.Instantiate(ctx, dir, "", "/usr/bin:/bin")
	require.NoError(t, err)
	built := realise(t, drvs["browser"])
	want := []string{drvs["browser"], drvs["libtls"]}
	slices.Sort(want)
	require.Equal(t, want, built, "exactly the two grafts are built")
	grafted, err := n.Realise(ctx, drvs["browser"])
	require.NoError(t, err)
	graftedTLS, err := n.Realise(ctx, drvs["libtls"])
	require.NoError(t, err)

	refs, err := n.References(ctx, grafted)
	require.NoError(t, err)
	require.Contains(t, refs, graftedTLS)
	require.NotContains(t, refs, tls)
	refs, err = n.References(ctx, graftedTLS)
	require.NoError(t, err)
	require.Contains(t, refs, newLib)
	require.NotContains(t, refs, oldLib)
	out, err := exec.Command(filepath.Join(grafted, "bin", "browser")).Output()
	require.NoError(t, err)
	require.Equal(t, "browser: TLS by "+newLib+"\n", string(out))
}

package tracker_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), got)
}

var deadline = time.Date(2025, 7, 8, 12, 0, 0, 0, time.UTC)

func sampleReport() tracker.Report {
	return tracker.Report{
		Package:    "libfoo",
		Phase:      tracker.PhaseBuild,
		Major:      3,
		Minor:      2,
		System:     "x86_64-linux",
		Commit:     "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
		Branch:     "crest/wave-3",
		Update:     "zlib: 1.3.1 → 1.3.2 | openssl: 3.0.13 → 3.0.14",
		Drv:        "/nix/store/0c7ph6wdzxlrh1gpvk6f8dqg2mjyq2ia-libfoo-1.2.3.drv",
		LogTail:    gccWave1,
		LogURL:     "https://crest.example.org/logs/wave-3-2/libfoo",
		Dependents: []string{"python312Packages.foo", "foo-cli", "gnome.foo-viewer", "foo-cli"},
		Deadline:   deadline,
	}
}

func TestTitle(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	require.Equal(t, "libfoo: build fails in wave-3-2", tracker.Title(r))
	r.Phase, r.Package = tracker.PhaseTest, "python312Packages.httpclient\n"
	require.Equal(t, "python312Packages.httpclient: tests fail in wave-3-2", tracker.Title(r))
}

func TestBodyGolden(t *testing.T) {
	t.Parallel()
	golden(t, "body_build.golden.md", tracker.Body(sampleReport()))

	r := sampleReport()
	r.Phase, r.Package, r.LogTail, r.Protected = tracker.PhaseTest, "python312Packages.httpclient", pytestWave1, true
	r.Dependents, r.LogURL, r.Branch, r.Drv = nil, "", "", ""
	golden(t, "body_test_protected.golden.md", tracker.Body(r))
}

func TestBodyDeterministic(t *testing.T) {
	t.Parallel()
	a := sampleReport()
	b := sampleReport()
	b.Dependents = []string{"foo-cli", "gnome.foo-viewer", "python312Packages.foo"}
	require.Equal(t, tracker.Body(a), tracker.Body(b), "dependents order and duplicates do not matter")
}

func TestBodyFencesLogsWithBackticks(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.LogTail = "error: expected `foo`\n```\nnot the end of the fence\n````\nerror: done"
	body := tracker.Body(r)
	require.Contains(t, body, "`````text\nerror: expected `foo`\n```\nnot the end of the fence\n````\nerror: done\n`````\n")
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	var log strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&log, "line %d: ünïcödé error text that goes on and on and on and on\n", i)
	}
	r.LogTail = log.String()
	for i := range 400 {
		r.Dependents = append(r.Dependents, fmt.Sprintf("dep-%03d", i))
	}
	body := tracker.Body(r)
	require.LessOrEqual(t, len(body), tracker.MaxBodyBytes)
	require.True(t, utf8.ValidString(body))
	require.Contains(t, body, "line 4999:", "the end of the log is kept")
	require.NotContains(t, body, "line 0:", "the start of the log is cut")
	require.Contains(t, body, "of 5000 lines")
	require.Contains(t, body, "- … and 353 more")
	require.Contains(t, body, "### How to respond", "the log is cut, not the instructions")

	r.LogTail = strings.Repeat("x", 200000) // one enormous line
	body = tracker.Body(r)
	require.LessOrEqual(t, len(body), tracker.MaxBodyBytes)
	require.Contains(t, body, "### How to respond")

	r.LogTail = ""
	require.Contains(t, tracker.Body(r), "No log was captured.")
}

func TestEvents(t *testing.T) {
	t.Parallel()
	base := tracker.Event{Package: "libfoo", Major: 3, Minor: 4, System: "x86_64-linux", Commit: "abc123"}
	tests := []struct {
		kind   tracker.EventKind
		mutate func(*tracker.Event)
		key    string
		closes tracker.CloseReason
	}{
		{tracker.EventRecurred, func(e *tracker.Event) {
			e.LogTail, e.Dependents, e.Deadline = gccWave2, []string{"b", "a"}, deadline
		}, "wave-3-4/recurred", ""},
		{tracker.EventRecurred, func(e *tracker.Event) { e.Attempt = 2 }, "wave-3-4/recurred/2", ""},
		{tracker.EventFixed, nil, "wave-3-4/fixed", tracker.ReasonCompleted},
		{tracker.EventWontFix, func(e *tracker.Event) {
			e.By, e.Reason = "alice", "upstream is dead;\nremove in 25.11"
		}, "wave-3-4/wont-fix", tracker.ReasonNotPlanned},
		{tracker.EventCantFix, nil, "wave-3-4/cant-fix", tracker.ReasonNotPlanned},
		{tracker.EventMarkedBroken, func(e *tracker.Event) { e.Reason = "grace period of 7 days ended" }, "wave-3-4/marked-broken", ""},
	}
	var all strings.Builder
	for _, tt := range tests {
		e := base
		e.Kind = tt.kind
		if tt.mutate != nil {
			tt.mutate(&e)
		}
		require.Equal(t, tt.key, e.Key())
		require.NoError(t, tracker.ValidateKey("key", e.Key()))
		reason, closes := e.CloseReason()
		require.Equal(t, tt.closes, reason)
		require.Equal(t, tt.closes != "", closes)
		fmt.Fprintf(&all, "<!-- %s -->\n%s\n", e.Key(), tracker.RenderEvent(e))
	}
	golden(t, "events.golden.md", all.String())
}

// TestCollectionTagPrefix: a collection with its own tag prefix sees it in every name the
// renderers write (title, body, label, comment key and text), and never the default.
func TestCollectionTagPrefix(t *testing.T) {
	t.Parallel()
	r := tracker.Report{Package: "libfoo", Major: 3, Minor: 2, System: "x86_64-linux", LogTail: "error: boom",
		Branch: "rel-3", TagPrefix: "rel"}
	require.Equal(t, "rel-3-2", r.Tag())
	require.Equal(t, "rel-3", r.Label())
	require.Equal(t, "libfoo: build fails in rel-3-2", tracker.Title(r))
	body := tracker.Body(r)
	require.Contains(t, body, "in minor wave `rel-3-2` of major wave `rel-3`.")
	require.Contains(t, body, "crest wave retry rel-3-2 libfoo --ref <branch>")
	require.NotContains(t, body, "wave-3")

	e := tracker.Event{Kind: tracker.EventRecurred, Package: "libfoo", Major: 3, Minor: 2, Attempt: 1, TagPrefix: "rel"}
	require.Equal(t, "rel-3-2/recurred/1", e.Key())
	require.NoError(t, tracker.ValidateKey("key", e.Key()))
	require.Contains(t, tracker.RenderEvent(e), "`rel-3-2`")

	r.TagPrefix, e.TagPrefix = "", ""
	require.Equal(t, "wave-3", r.Label(), "an empty prefix is the default")
	require.Equal(t, "wave-3-2/recurred/1", e.Key())
}

// TestSecurityPatchReport: a root cause in a security patch's rebuild is named by the
// security tag the rebuild makes, says which finished tag and patch it is in, and asks for
// `crest patch` commands; a protected package is not offered a resolution without a fix.
// Its events are keyed by the security tag, so they never meet the finished tag's.
func TestSecurityPatchReport(t *testing.T) {
	t.Parallel()
	r := tracker.Report{Package: "pkgtool", Major: 1, Minor: 1, System: "x86_64-linux", LogTail: "ld: error: boom",
		Branch: "security/wave-1-1-security-3", Patch: "patch-3", Wave: "wave-1-1-security-3", Protected: true}
	require.Equal(t, "wave-1-1-security-3", r.Tag())
	require.Equal(t, "pkgtool: build fails in wave-1-1-security-3", tracker.Title(r))
	body := tracker.Body(r)
	require.Contains(t, body, "in `wave-1-1-security-3`, the rebuild of `wave-1-1` by security patch `patch-3`.")
	require.Contains(t, body, "`crest patch retry patch-3 pkgtool --ref <branch>`. Crest merges it onto `security/wave-1-1-security-3`")
	require.Contains(t, body, "so the security tag needs it fixed: `wave-1-1-security-3` waits for a fix.")
	require.NotContains(t, body, "crest wave")
	require.NotContains(t, body, "resolve", "a protected package is fixed or nothing in a security tag")

	r.Package, r.Protected = "libhttp", false
	body = tracker.Body(r)
	require.Contains(t, body, "`crest patch resolve patch-3 libhttp --as wont-fix --reason \"…\"`")
	require.NotContains(t, body, "crest wave")

	e := tracker.Event{Kind: tracker.EventRecurred, Package: "libhttp", Major: 1, Minor: 1, Attempt: 1, Wave: "wave-1-1-security-3"}
	require.Equal(t, "wave-1-1-security-3/recurred/1", e.Key())
	require.NoError(t, tracker.ValidateKey("key", e.Key()))
	e.Kind, e.By, e.Attempt = tracker.EventWontFix, "frank", 0
	require.Contains(t, tracker.RenderEvent(e), "Resolved as `wont-fix` in `wave-1-1-security-3`")
}

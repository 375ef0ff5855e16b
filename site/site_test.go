package site_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/site"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newSite serves a seeded store; it returns the server and the DSN the store was opened
// with (carrying a password the loopback-trusting test cluster ignores).
func newSite(t *testing.T) (*httptest.Server, *store.Store, string) {
	t.Helper()
	u, err := url.Parse(testenv.DSN(t, false))
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "s3cret-Passw0rd")
	dsn := u.String()
	st, err := store.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	seed(t, st)
	s, err := site.New(st, site.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, st, dsn
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestSitePagesTellWhyAPackageIsNotGreen reads every page as a maintainer would.
func TestSitePagesTellWhyAPackageIsNotGreen(t *testing.T) {
	t.Parallel()
	srv, _, _ := newSite(t)

	code, ctype, body := get(t, srv, "/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, ctype, "text/html")
	require.Contains(t, body, `href="/waves/demo/wave-1"`)
	require.Contains(t, body, "wave-1-2 waits for people")
	require.Contains(t, body, "2/4 green")

	_, _, body = get(t, srv, "/waves/demo/wave-1")
	for _, want := range []string{"wave-1-1", "tagged <code>wave-1-1</code>", "wave-1-2", "waiting",
		"1 root cause unresolved: waiting for people", `/waves/demo/wave-1/burndown/wave-1-2.svg`,
		`href="/packages/demo/libfail"`, `href="/packages/demo/app"`, seedReason} {
		require.Contains(t, body, want)
	}

	_, _, body = get(t, srv, "/packages/demo/app")
	require.Contains(t, body, "not built: a dependency failed (root cause libfail)")
	require.Contains(t, body, `<a href="`+seedIssueURL+`">`, "the root cause's issue is linked from its dependent")
	require.Contains(t, body, "No tag of demo has app green")

	_, _, body = get(t, srv, "/packages/demo/libfail")
	require.Contains(t, body, "its build failed; its maintainers were told in "+seedIssueURL)
	require.Contains(t, body, seedReason, "the deadline and what happens then")
	require.Contains(t, body, "undefined reference to core_init")

	_, _, body = get(t, srv, "/packages/demo/libcore")
	require.Contains(t, body, "Pin libcore to wave-1-1 (commit c1c1c1c1c1c1)")
	require.Contains(t, body, "built and tested green")

	_, _, body = get(t, srv, "/tags")
	require.Contains(t, body, "wave-1-1: 1 package green")
	require.Contains(t, body, `action="/pin"`)
	_, _, body = get(t, srv, "/pin?collection=demo&package=libcore")
	require.Contains(t, body, "Pin libcore to wave-1-1")

	_, _, body = get(t, srv, "/issues")
	require.Contains(t, body, "libfail fails to build in wave-1-2")
	require.Contains(t, body, "(being filed)")

	code, ctype, body = get(t, srv, "/waves/demo/wave-1/burndown/wave-1-2.svg")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "image/svg+xml", ctype)
	require.Contains(t, body, "<svg")
	require.Contains(t, body, "Remaining builds of wave-1-2")

	for _, path := range []string{"/waves/demo/wave-9", "/waves/demo/nine", "/packages/nope/app", "/waves/demo/wave-1/burndown/wave-1-7.svg"} {
		code, _, _ = get(t, srv, path)
		require.Equal(t, http.StatusNotFound, code, path)
	}
	code, _, _ = get(t, srv, "/pin?collection=demo")
	require.Equal(t, http.StatusBadRequest, code)
}

// TestSitePagesAsJSON reads every page as JSON, both ways of asking.
func TestSitePagesAsJSON(t *testing.T) {
	t.Parallel()
	srv, _, _ := newSite(t)
	decode := func(path string) map[string]any {
		t.Helper()
		code, ctype, body := get(t, srv, path)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, "application/json", ctype, path)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &v), path)
		return v
	}
	require.Equal(t, decode("/index.json"), decode("/?format=json"))
	waves := decode("/waves.json")["waves"].([]any)
	require.Len(t, waves, 1)
	require.Equal(t, "running", waves[0].(map[string]any)["state"])

	wave := decode("/waves/demo/wave-1.json")
	minors := wave["minor_waves"].([]any)
	require.Len(t, minors, 2)
	m2 := minors[1].(map[string]any)
	require.Equal(t, "waiting", m2["state"])
	require.Equal(t, "wave-1-1", minors[0].(map[string]any)["tag"])
	notGreen := m2["not_green"].([]any)[0].(map[string]any)
	require.Equal(t, "libfail", notGreen["package"])
	require.Equal(t, []any{"app"}, notGreen["blocks"])

	pkg := decode("/packages/demo/app?format=json")
	ex := pkg["excuses"].([]any)[0].(map[string]any)
	require.Equal(t, "dependency-failed", ex["status"])
	require.Equal(t, false, ex["green"])
	blocker := ex["blocked_by"].([]any)[0].(map[string]any)
	require.Equal(t, "libfail", blocker["package"])
	require.Equal(t, seedIssueURL, blocker["issue"])
	require.Equal(t, seedReason, blocker["reason"])

	pin := decode("/pin.json?collection=demo&package=libcore")["pin"].(map[string]any)
	require.Equal(t, "wave-1-1", pin["tag"])
	require.Len(t, decode("/tags.json")["tags"].([]any), 1)
	require.Len(t, decode("/issues.json?state=open")["issues"].([]any), 1)
	samples := decode("/waves/demo/wave-1/burndown/wave-1-2.json")["samples"].([]any)
	require.Equal(t, float64(3), samples[0].(map[string]any)["remaining"], "three packages at the start")
	require.Equal(t, float64(0), samples[len(samples)-1].(map[string]any)["remaining"], "all settled (green or failed)")

	code, ctype, body := get(t, srv, "/waves/demo/wave-9.json")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "application/json", ctype)
	require.Contains(t, body, `"error"`)
}

// TestSiteShowsNoSecret crawls every page, as HTML and JSON, and an error page while the
// database is gone: neither the DSN, its password, nor the database's address appears.
func TestSiteShowsNoSecret(t *testing.T) {
	t.Parallel()
	srv, st, dsn := newSite(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	secrets := []string{dsn, "s3cret-Passw0rd", u.Host, "postgres://", "postgresql://", strings.TrimPrefix(u.Path, "/")}
	paths := []string{"/", "/waves/demo/wave-1", "/packages/demo/app", "/packages/demo/libfail", "/packages/demo/libcore",
		"/tags", "/pin?collection=demo&package=app", "/issues", "/queue", "/waves/demo/wave-1/burndown/wave-1-2.svg", "/waves/demo/wave-404",
		"/waves/demo/wave-1/burndown.svg", "/waves/demo/wave-1/failures.svg", "/waves/demo/wave-1/gantt.svg"}
	check := func(path string) {
		t.Helper()
		_, _, body := get(t, srv, path)
		for _, s := range secrets {
			require.NotContains(t, body, s, "%s shows a secret", path)
		}
	}
	for _, p := range paths {
		check(p)
		if strings.Contains(p, "?") {
			check(p + "&format=json")
		} else {
			check(p + "?format=json")
		}
	}
	st.Close() // every query now fails with pgx's own words, which may name the server
	code, _, body := get(t, srv, "/waves/demo/wave-1")
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, body, "internal error")
	for _, p := range paths {
		check(p)
	}
}

// TestSiteNamesWavesWithTheCollectionPrefix: a collection whose tag prefix is "rel" has its
// waves listed, linked, found and drawn as rel-N and rel-N-M; "wave-N" is no wave of it.
func TestSiteNamesWavesWithTheCollectionPrefix(t *testing.T) {
	t.Parallel()
	srv, st, _ := newSite(t)
	ctx := context.Background()
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "rels", Remote: "/srv/rels.git",
		Settings: json.RawMessage(`{"name": "rels", "tag_prefix": "rel"}`)})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "r1r1r1r1", sys, []graph.Package{{Key: "libfail", Name: "libfail", Drv: "/nix/store/rlibfail.drv"}})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "rels/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "rel-1-1", json.RawMessage(`[{"package":"libfail","ref":"update/libfail-2"}]`))
	require.NoError(t, err)
	require.NoError(t, st.SetMinorWave(ctx, m.ID, "building", "r1r1r1r1", ev.ID))
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, []store.RoundRow{{Package: "libfail", Drv: "/nix/store/rlibfail.drv"}}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/rel-1-1/libfail", MinorWaveID: m.ID, System: sys,
		Package: "libfail", Drv: "/nix/store/rlibfail.drv", Status: store.StatusFailed, ExitCode: 1, LogTail: "error: boom"}))
	_, _, err = st.RecordRootCause(ctx, store.RootCauseRecord{Collection: "rels", Fingerprint: "fp-rlibfail", Package: "libfail",
		Tracker: store.LocalTracker, Title: "libfail fails to build in rel-1-1",
		Open: store.IssueEvent{Key: "rels/fp-rlibfail/rel-1-1/open", Event: "open", Major: 1, Minor: 1, Title: "libfail fails"}})
	require.NoError(t, err)

	_, _, body := get(t, srv, "/?collection=rels")
	require.Contains(t, body, `href="/waves/rels/rel-1"`)
	require.NotContains(t, body, "wave-1")
	var list site.WavesPage
	_, _, raw := get(t, srv, "/waves.json?collection=rels")
	require.NoError(t, json.Unmarshal([]byte(raw), &list), raw)
	require.Len(t, list.Waves, 1)
	require.Equal(t, "rel-1", list.Waves[0].Name)
	require.Equal(t, "rel-1", list.Waves[0].Branch)

	code, _, body := get(t, srv, "/waves/rels/rel-1")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "rel-1-1")
	require.Contains(t, body, "/waves/rels/rel-1/burndown/rel-1-1.svg")
	require.Contains(t, body, `src="/waves/rels/rel-1/gantt.png"`)
	code, _, body = get(t, srv, "/waves/rels/rel-1/burndown/rel-1-1.svg")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Remaining builds of rel-1-1")
	for _, kind := range site.ChartKinds {
		code, _, body = get(t, srv, "/waves/rels/rel-1/"+kind+".svg")
		require.Equal(t, http.StatusOK, code, kind)
		require.Contains(t, body, " rel-1", kind)
		require.NotContains(t, body, "wave-1", kind)
	}

	_, _, body = get(t, srv, "/packages/rels/libfail")
	require.Contains(t, body, `href="/waves/rels/rel-1#rel-1-1"`)
	_, _, body = get(t, srv, "/issues?collection=rels")
	require.Contains(t, body, "<td>rel-1-1</td>")

	for _, path := range []string{"/waves/rels/wave-1", "/waves/rels/rel-1-1", "/waves/rels/rel-01",
		"/waves/rels/rel-1/burndown/wave-1-1.svg", "/waves/rels/rel-1/burndown/rel-2-1.svg", "/waves/nope/rel-1"} {
		code, _, _ = get(t, srv, path)
		require.Equal(t, http.StatusNotFound, code, path)
	}
}

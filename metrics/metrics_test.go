package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/temporal"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/metrics"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func hello(ctx workflow.Context, name string) (string, error) { return "hello " + name, nil }

// TestMetricsScrapeShowsSDKAndCrestMetrics runs a workflow on a worker whose client
// records on the registry, with Crest's collector over a store holding a wave, builds and
// a pending issue event, and scrapes /metrics.
func TestMetricsScrapeShowsSDKAndCrestMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, []store.RoundRow{{Package: "a"}, {Package: "b"}, {Package: "c"}}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/a", MinorWaveID: m.ID, System: sys, Package: "a", Drv: "a.drv", Status: store.StatusPassed}))
	require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/b", MinorWaveID: m.ID, System: sys, Package: "b", Drv: "b.drv", Status: store.StatusFailed}))
	// c is building on one of the four slots the builders announced.
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, []graph.Package{{Key: "c", Name: "c", Drv: "c.drv"}})
	require.NoError(t, err)
	_, _, _, err = st.StartBuild(ctx, ev.ID, store.BuildRecord{Key: "k/c", MinorWaveID: m.ID, System: sys, Package: "c"})
	require.NoError(t, err)
	require.NoError(t, st.AnnounceBuilder(ctx, "host:1/"+sys, sys, 4))
	_, _, err = st.RecordRootCause(ctx, store.RootCauseRecord{Collection: "demo", Fingerprint: "fp", Package: "b",
		Tracker: store.LocalTracker, Title: "b fails", At: time.Now().Add(-time.Minute),
		Open: store.IssueEvent{Key: "demo/fp/wave-1-1/open", Event: "open", Major: 1, Minor: 1}})
	require.NoError(t, err)

	reg := metrics.New()
	require.NoError(t, reg.Register(metrics.NewStoreCollector(st, nil)))
	srv := testenv.TemporalServer(t)
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: srv.Namespace(),
		Logger: temporal.SilentLogger(), MetricsHandler: reg.SDKHandler()})
	require.NoError(t, err)
	defer c.Close()
	const queue = "metrics-test"
	wk := worker.New(c, queue, worker.Options{})
	wk.RegisterWorkflowWithOptions(hello, workflow.RegisterOptions{Name: "Hello"})
	require.NoError(t, wk.Start())
	defer wk.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "metrics-hello", TaskQueue: queue}, "Hello", "you")
	require.NoError(t, err)
	var out string
	require.NoError(t, run.Get(ctx, &out))

	var body string
	require.Eventually(t, func() bool {
		body = scrape(t, reg.Handler())
		return strings.Contains(body, `temporal_workflow_completed_total{`)
	}, 10*time.Second, 100*time.Millisecond, "the SDK counts the completed workflow")
	for _, want := range []string{
		// The SDK's, with its tags as labels.
		`workflow_type="Hello"`,
		`namespace="` + srv.Namespace() + `"`,
		`task_queue="` + queue + `"`,
		`temporal_request_total{`,
		`operation="StartWorkflowExecution"`,
		`temporal_workflow_endtoend_latency_seconds_bucket{`,
		// Crest's, from Postgres.
		`crest_store_up 1`,
		`crest_builds{result="passed",system="x86_64-linux"} 1`,
		`crest_builds{result="failed",system="x86_64-linux"} 1`,
		`crest_build_duration_seconds_bucket{system="x86_64-linux",le="1"} 2`,
		`crest_build_duration_seconds_count{system="x86_64-linux"} 2`,
		`crest_packages_pending{system="x86_64-linux"} 1`,
		`crest_builds_running{system="x86_64-linux"} 1`,
		`crest_builder_slots{system="x86_64-linux"} 4`,
		`crest_builder_utilization{system="x86_64-linux"} 0.25`,
		`crest_waves{phase="running"} 1`,
		`crest_minor_waves{phase="merging"} 1`,
		`crest_issue_outbox_pending 1`,
		`crest_issue_outbox_lag_seconds `,
		// The process's.
		`go_goroutines `,
	} {
		require.Contains(t, body, want)
	}
}

// TestSDKHandlerKeepsOneLabelSetPerName feeds a name with two tag sets, as SDK call sites
// may: the first set wins, and the scrape still works.
func TestSDKHandlerKeepsOneLabelSetPerName(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	h := reg.SDKHandler()
	h.WithTags(map[string]string{"task_queue": "q", "namespace": "n"}).Counter("temporal_thing").Inc(2)
	h.WithTags(map[string]string{"other-tag": "x"}).Counter("temporal_thing").Inc(3)
	h.Gauge("temporal_level").Update(4.5)
	h.Timer("temporal_wait").Record(1500 * time.Millisecond)
	body := scrape(t, reg.Handler())
	require.Contains(t, body, `temporal_thing_total{namespace="n",task_queue="q"} 2`)
	require.Contains(t, body, `temporal_thing_total{namespace="",task_queue=""} 3`)
	require.Contains(t, body, `temporal_level 4.5`)
	require.Contains(t, body, `temporal_wait_seconds_bucket{le="2.5"} 1`)
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// devConfig is a crest dev configuration on free ports in a fresh data directory that the
// postgres account can reach when tests run as root.
func devConfig(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	cfg, _, err := loadConfig(writeConfig(t, ""), nil)
	require.NoError(t, err)
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Dev.TemporalPort, cfg.Dev.UIPort, cfg.Dev.PostgresPort, cfg.Dev.SitePort = 0, 0, 0, 0
	return cfg
}

// startDev runs crest dev until the returned stop is called, waiting until it is ready.
func startDev(t *testing.T, cfg *Config) (devState, func()) {
	t.Helper()
	return startDevDemo(t, cfg, false)
}

func startDevDemo(t *testing.T, cfg *Config, demo bool) (devState, func()) {
	t.Helper()
	return startDevOut(t, cfg, demo, io.Discard)
}

// startDevOut is startDev with --demo as asked, printing to out.
func startDevOut(t *testing.T, cfg *Config, demo bool, out io.Writer) (devState, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDev(ctx, cfg, demo, out) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if s, ok := readDevState(cfg.DataDir); ok {
			return s, func() {
				cancel()
				require.NoError(t, <-done)
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("crest dev exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("crest dev not ready in 60s")
		}
	}
}

func TestDevRestartKeepsData(t *testing.T) {
	cfg := devConfig(t)
	ctx := context.Background()

	state, stop := startDev(t, cfg)
	st, err := store.Open(ctx, state.DatabaseURL)
	require.NoError(t, err)
	_, err = st.UpsertCollection(ctx, store.Collection{Name: "kept", Remote: "/srv/kept.git"})
	require.NoError(t, err)
	st.Close()
	c, err := client.Dial(client.Options{HostPort: state.Temporal, Namespace: state.Namespace})
	require.NoError(t, err)
	// Nobody serves this queue: the execution stays open across the restart.
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kept-wave", TaskQueue: "nobody"}, "MajorWave")
	require.NoError(t, err)
	c.Close()
	// The Web UI answers, and its API reaches the embedded server: it lists the workflow.
	resp, err := http.Get("http://" + state.UI + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + state.UI + "/api/v1/namespaces/" + state.Namespace + "/workflows")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(b), "kept-wave")
	}, 20*time.Second, 200*time.Millisecond, "the Web UI's API lists the running workflow")
	stop()
	_, running := readDevState(cfg.DataDir)
	require.False(t, running, "dev.json removed on shutdown")

	state, stop = startDev(t, cfg)
	defer stop()
	st, err = store.Open(ctx, state.DatabaseURL)
	require.NoError(t, err)
	defer st.Close()
	col, err := st.CollectionByName(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "/srv/kept.git", col.Remote)
	c, err = client.Dial(client.Options{HostPort: state.Temporal, Namespace: state.Namespace})
	require.NoError(t, err)
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(ctx, "kept-wave", "")
	require.NoError(t, err)
	require.Equal(t, "MajorWave", desc.WorkflowExecutionInfo.Type.Name)
}

func TestDevRefusesSecondInstanceOnSameDataDir(t *testing.T) {
	cfg := devConfig(t)
	_, stop := startDev(t, cfg)
	defer stop()
	err := runDev(context.Background(), cfg, false, io.Discard)
	require.ErrorContains(t, err, "in use by another crest dev")
}

func TestDevDataDirNotWritable(t *testing.T) {
	cfg := devConfig(t)
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o644))
	cfg.DataDir = filepath.Join(blocker, "data") // a path through a regular file
	err := runDev(context.Background(), cfg, false, io.Discard)
	require.ErrorContains(t, err, "not writable")
}

func TestDevPortInUseNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		flag string
		set  func(*Config, int)
	}{
		{"--postgres-port", func(c *Config, p int) { c.Dev.PostgresPort = p }},
		{"--temporal-port", func(c *Config, p int) { c.Dev.TemporalPort = p }},
		{"--ui-port", func(c *Config, p int) { c.Dev.UIPort = p }},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			cfg := devConfig(t)
			port := l.Addr().(*net.TCPAddr).Port
			tc.set(cfg, port)
			err = runDev(context.Background(), cfg, false, io.Discard)
			require.ErrorContains(t, err, fmt.Sprintf("port %d: port in use", port))
			require.ErrorContains(t, err, tc.flag)
		})
	}
}

// TestDevRestartResumesRunningWave stops crest dev while its demo wave waits for people and
// starts it again on the same data directory: the wave carries on from where it was.
func TestDevRestartResumesRunningWave(t *testing.T) {
	cfg := devConfig(t)
	ctx := context.Background()
	state, stop := startDevDemo(t, cfg, true)
	c, err := client.Dial(client.Options{HostPort: state.Temporal, Namespace: state.Namespace})
	require.NoError(t, err)
	waitMinor(t, c, 1, workflows.PhaseWaiting)
	c.Close()
	stop()

	state, stop = startDevDemo(t, cfg, true) // --demo again: the running wave is reused
	defer stop()
	c, err = client.Dial(client.Options{HostPort: state.Temporal, Namespace: state.Namespace})
	require.NoError(t, err)
	defer c.Close()
	st, err := store.Open(ctx, state.DatabaseURL)
	require.NoError(t, err)
	defer st.Close()
	waves, err := st.Waves(ctx, demoCollection)
	require.NoError(t, err)
	require.Len(t, waves, 1, "the restart did not start a second demo wave")

	send := func(name string, arg any) {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: "demo/wave-1", UpdateName: name,
			Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
		require.NoError(t, err)
		require.NoError(t, h.Get(ctx, nil))
	}
	send(workflows.UpdateResolve, workflows.ResolveRequest{Package: "tetrix", Resolution: "wont-fix", Reason: "gone upstream", By: "alice"})
	send(workflows.UpdateRetry, workflows.RetryRequest{Package: "calc", Ref: demo.FixCalcPrecision})
	waitMinor(t, c, 2, workflows.PhaseWaiting)
	send(workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: demo.FixLibhttpLibnet2})
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	require.NoError(t, c.GetWorkflow(wctx, "demo/wave-1", "").Get(wctx, &res))
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
}

// waitMinor waits until the demo wave's minor wave m is in phase.
func waitMinor(t *testing.T, c client.Client, m int, phase string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if v, err := c.QueryWorkflow(context.Background(), "demo/wave-1", "", workflows.QueryStatus); err == nil {
			var st workflows.MajorStatus
			if v.Get(&st) == nil && len(st.Minor) >= m && st.Minor[m-1].Phase == phase {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("minor wave %d never reached %s", m, phase)
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
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
	cfg.Dev.TemporalPort, cfg.Dev.UIPort, cfg.Dev.PostgresPort = 0, 0, 0
	return cfg
}

// startDev runs crest dev until the returned stop is called, waiting until it is ready.
func startDev(t *testing.T, cfg *Config) (devState, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runDev(ctx, cfg, false, io.Discard) }()
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

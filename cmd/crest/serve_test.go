package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/deploy/testenv"
)

// syncBuffer is a bytes.Buffer a command writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestServeSiteAndMetrics runs `crest serve --addr` against a database and reads a page and
// /metrics from it.
func TestServeSiteAndMetrics(t *testing.T) {
	dsn := testenv.DSN(t, false)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	root := newRootCmd()
	var out syncBuffer
	root.SetOut(&out)
	root.SetArgs([]string{"serve", "--addr", addr, "--database-url", dsn, "--config", writeConfig(t, "")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Status site on http://"+addr+"/") },
		30*time.Second, 50*time.Millisecond, "crest serve prints where it listens")
	code, body := httpGet(t, "http://"+addr+"/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "No wave has started yet")
	require.NotContains(t, body, dsn)
	code, body = httpGet(t, "http://"+addr+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "crest_store_up 1")
	require.Contains(t, body, "crest_issue_outbox_pending 0")
}

func TestSitePortFlagEnvAndDefault(t *testing.T) {
	cfg, _, err := loadConfig(writeConfig(t, ""), parsedFlags(t).Flags())
	require.NoError(t, err)
	require.Equal(t, 8234, cfg.Dev.SitePort)
	require.Equal(t, "127.0.0.1:8234", cfg.Site.Addr)
	_, _, err = loadConfig(writeConfig(t, "dev:\n  site_port: 70000\n"), nil)
	require.ErrorContains(t, err, "dev.site_port")
	t.Setenv("CREST_DEV_SITE_PORT", "9301")
	cfg, _, err = loadConfig(writeConfig(t, "dev:\n  site_port: 9300\n"), parsedFlags(t).Flags())
	require.NoError(t, err)
	require.Equal(t, 9301, cfg.Dev.SitePort, "env beats file")
	cfg, _, err = loadConfig(writeConfig(t, ""), parsedFlags(t, "--site-port", "9302").Flags())
	require.NoError(t, err)
	require.Equal(t, 9302, cfg.Dev.SitePort, "flag beats env")
}

var statusLine = regexp.MustCompile(`(?m)^  Status     http://([0-9.]+:[0-9]+)/$`)

// devSiteAddr waits for crest dev's banner in out and returns the host:port of the status
// site from its Status line.
func devSiteAddr(t *testing.T, out *syncBuffer) string {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Crest is ready") },
		30*time.Second, 50*time.Millisecond, "crest dev prints its banner")
	m := statusLine.FindStringSubmatch(out.String())
	require.NotNil(t, m, "banner has a Status line:\n%s", out.String())
	return m[1]
}

// TestDevServesStatusSiteAndMetrics starts crest dev with its status site on a free port:
// the banner names it, it serves the waves page, and its /metrics carries the dev worker's
// SDK metrics and Crest's own. A taken --site-port is refused by name.
func TestDevServesStatusSiteAndMetrics(t *testing.T) {
	cfg := devConfig(t)
	cfg.Dev.SitePort = 0
	var out syncBuffer
	_, stop := startDevOut(t, cfg, false, &out)
	defer stop()
	site := devSiteAddr(t, &out)
	require.Contains(t, out.String(), "  Metrics    http://"+site+"/metrics")

	code, body := httpGet(t, "http://"+site+"/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<h1>Waves</h1>")
	require.Eventually(t, func() bool {
		_, body = httpGet(t, "http://"+site+"/metrics")
		return strings.Contains(body, "temporal_long_request_total{") && strings.Contains(body, "crest_store_up 1")
	}, 30*time.Second, 200*time.Millisecond, "the dev worker's polls and Crest's metrics are scraped")
	require.Contains(t, body, `task_queue="`+cfg.TaskQueues.Default+`"`)

	// A second crest dev on the same site port is refused by that port's flag.
	other := devConfig(t)
	_, port, _ := net.SplitHostPort(site)
	fmt.Sscan(port, &other.Dev.SitePort)
	err := runDev(context.Background(), other, false, io.Discard)
	require.ErrorContains(t, err, "port "+port+": port in use")
	require.ErrorContains(t, err, "--site-port")
}

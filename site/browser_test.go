package site_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium finds Debian's Chromium. Like every prerequisite, its absence fails the test
// with what to install.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium not found: the browser tests drive Debian's Chromium; install it with `apt-get install chromium` (or run deploy/deps.sh)")
	return ""
}

// browser starts a headless Chromium with a fresh profile and no network chatter of its
// own. When the test fails, the page it was on is saved as a screenshot under os.TempDir()
// (t.TempDir is deleted) and the path logged.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	t.Cleanup(func() { // runs before the cancels above
		if !t.Failed() {
			return
		}
		dir := filepath.Join(os.TempDir(), "crest-test-artifacts")
		sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
		defer scancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(90))
		if err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
		name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_") + "-" + time.Now().Format("20060102-150405") + ".png"
		if err := os.MkdirAll(dir, 0o755); err == nil {
			if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err == nil {
				t.Logf("screenshot of the failing page: %s", filepath.Join(dir, name))
				return
			}
		}
		t.Logf("screenshot could not be saved in %s", dir)
	})
	return ctx
}

// TestBrowserShowsWaveBurndownAndExcuse loads the wave page and a package's excuse page in
// Chromium and reads what a person sees: the minor waves with their state and reason, the
// pictures actually drawn (the major wave's burndown with its minor waves, its failures and
// resolutions, its Gantt, and a minor wave's burndown), and why app is not green with its
// root cause's issue.
func TestBrowserShowsWaveBurndownAndExcuse(t *testing.T) {
	t.Parallel()
	srv, _, _ := newSite(t)
	ctx := browser(t)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/waves/demo/wave-1"),
		chromedp.WaitVisible(chromedp.ID("wave-1-2")),
	))
	wave, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	require.NoError(t, err)
	for _, img := range []string{"#wave-1-2 img.burndown", "img.wave-burndown", "img.wave-failures", "img.wave-gantt"} {
		drawn, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector('`+img+`');
			return i.complete && i.naturalWidth > 0; })()`, chromedp.WithPollingTimeout(20*time.Second)))
		require.NoError(t, err, img)
		require.True(t, drawn, "%s loads and is drawn", img)
	}
	for _, want := range []string{"demo wave-1", "wave-1-1", "tagged wave-1-1", "wave-1-2 waiting",
		"1 root cause unresolved: waiting for people", "Not green (root causes)", "libfail", seedReason} {
		require.Contains(t, wave, want)
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/packages/demo/app"]`)),
		chromedp.WaitVisible(chromedp.ID("package")),
	))
	excuse, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	require.NoError(t, err)
	issue, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`.excuse table a[href^="https://"]`), "href"))
	require.NoError(t, err)
	require.Contains(t, excuse, "app in demo")
	require.Contains(t, excuse, "not built: a dependency failed (root cause libfail)")
	require.Contains(t, excuse, "No tag of demo has app green with its whole build closure yet.")
	require.True(t, issue.Exists)
	require.Equal(t, seedIssueURL, issue.Value, "the root cause's issue is a link")
}

package browsertest

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

// ArtifactDir is where screenshots of failing pages go: under os.TempDir(), because
// t.TempDir is deleted when the test ends.
func ArtifactDir() string { return filepath.Join(os.TempDir(), "crest-test-artifacts") }

// Chromium finds Debian's Chromium. Like every prerequisite, its absence fails the test
// with what to install.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium not found: the browser tests drive Debian's Chromium; install it with `apt-get install chromium` (or run deploy/deps.sh)")
	return ""
}

// Timeout bounds a test's whole browsing: a page that never shows what the test waits for
// fails the test instead of hanging it.
const Timeout = 2 * time.Minute

// New starts a headless Chromium with a fresh profile and no network chatter of its own,
// for at most Timeout. When the test fails, the page it was on is saved as a screenshot
// under ArtifactDir and the path logged.
func New(t testing.TB) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(t)),
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
	bctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(cancelCtx)
	// The browser lives as long as the context of its first action: bctx, not the timeout
	// below, so that a test that ran out of time still gets its screenshot.
	require.NoError(t, chromedp.Do(bctx), "start Chromium")
	ctx, cancel := context.WithTimeout(bctx, Timeout)
	t.Cleanup(cancel)
	t.Cleanup(func() { // runs before the cancels above
		if t.Failed() {
			screenshot(t, bctx)
		}
	})
	return ctx
}

// screenshot saves the page the browser is on, named after the test.
func screenshot(t testing.TB, ctx context.Context) {
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // quality 100 is PNG; less is JPEG
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	dir := ArtifactDir()
	name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_") + "-" + time.Now().Format("20060102-150405") + ".png"
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err == nil {
			t.Logf("screenshot of the failing page: %s", filepath.Join(dir, name))
			return
		}
	}
	t.Logf("screenshot could not be saved in %s", dir)
}

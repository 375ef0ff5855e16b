package site_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/internal/browsertest"
)

// TestBrowserShowsWaveBurndownAndExcuse loads the wave page and a package's excuse page in
// Chromium and reads what a person sees: the minor waves with their state and reason, the
// pictures actually drawn (the major wave's burndown with its minor waves, its failures and
// resolutions, its Gantt, and a minor wave's burndown), and why app is not green with its
// root cause's issue.
func TestBrowserShowsWaveBurndownAndExcuse(t *testing.T) {
	t.Parallel()
	srv, _, _ := newSite(t)
	ctx := browsertest.New(t)

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

// Package browsertest gives browser tests a headless Debian Chromium driven by chromedp:
// one fresh profile per test, no network chatter of its own, and a screenshot of the page
// saved as a test artifact when the test fails. The status site's tests and the Web UI test
// of `crest dev` share it, so both run the browser the same way.
//
// A missing Chromium fails the test with what to install; nothing is skipped silently.
//
//	ctx := browsertest.New(t)
//	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("main"))))
package browsertest

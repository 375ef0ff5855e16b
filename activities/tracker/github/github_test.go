package github_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v88/github"
	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/github"
	"github.com/crestwaves/crest/activities/tracker/github/githubtest"
	"github.com/crestwaves/crest/activities/tracker/trackertest"
)

const (
	repo       = "nixos/nixpkgs"
	issuesPath = "/repos/nixos/nixpkgs/issues"
	// canary is a token distinctive enough that finding it anywhere is a leak.
	canary = "ghp_CrestCanary7f3c9a1e5b2d4c6e8a0bZZ"
)

// syncBuffer is a bytes.Buffer safe for the log handler and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	srv  *githubtest.Server
	tr   *github.Tracker
	cfg  github.Config
	logs *syncBuffer
}

// newEnv starts a fake GitHub with the repository and a tracker with short waits.
func newEnv(t *testing.T, mutate ...func(*github.Config)) *env {
	t.Helper()
	srv := githubtest.New(t, canary)
	srv.AddRepo(repo)
	logs := &syncBuffer{}
	cfg := github.Config{
		Repo:            repo,
		Token:           canary,
		BaseURL:         srv.URL(),
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RequestTimeout:  5 * time.Second,
		BackoffBase:     10 * time.Millisecond,
		BackoffMax:      40 * time.Millisecond,
		MaxWait:         5 * time.Second,
		RateLimitBuffer: 50 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	tr, err := github.New(cfg)
	require.NoError(t, err)
	return &env{srv: srv, tr: tr, cfg: cfg, logs: logs}
}

func sampleIssue() tracker.Issue {
	r := tracker.Report{Package: "libfoo", Major: 3, Minor: 2, System: "x86_64-linux", LogTail: "error: boom"}
	return tracker.Issue{Title: tracker.Title(r), Body: tracker.Body(r), Labels: []string{r.Label()}}
}

var fp = tracker.Fingerprint("libfoo", "error: boom")

func TestConformance(t *testing.T) {
	t.Parallel()
	trackertest.Run(t, func(t *testing.T) trackertest.Subject {
		e := newEnv(t)
		return trackertest.Subject{
			Tracker: e.tr,
			ExternalComment: func(_ context.Context, ref tracker.Ref, body string) error {
				e.srv.AddComment(ref.Repo, int(ref.Number), "alice", body)
				return nil
			},
		}
	})
}

func TestOpenFilesWithLabelsAndMarker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	is := sampleIssue()
	is.Labels = append(is.Labels, "crest") // no duplicate
	ref, created, err := e.tr.Open(t.Context(), fp, is)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, tracker.Ref{Tracker: "github", Repo: repo, Number: 1, URL: "https://github.com/nixos/nixpkgs/issues/1"}, ref)

	issues := e.srv.Issues(repo)
	require.Len(t, issues, 1)
	require.Equal(t, "libfoo: build fails in wave-3-2", issues[0].Title)
	require.Equal(t, []string{"crest", "wave-3"}, issues[0].Labels)
	require.True(t, strings.HasSuffix(issues[0].Body, "\n\n"+tracker.FingerprintMarker(fp)+"\n"))
	require.Equal(t, githubtest.BotLogin, issues[0].User)
}

func TestServerErrorBeforeCreateThenSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.ServerError(http.MethodPost, issuesPath, http.StatusBadGateway, false)
	ref, created, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.True(t, created)
	require.EqualValues(t, 1, ref.Number)
	require.Len(t, e.srv.Issues(repo), 1, "one issue, not two")
	require.Equal(t, 2, e.srv.Count(http.MethodPost, issuesPath))
}

func TestServerErrorAfterCreateFindsTheIssue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// GitHub created the issue, then the gateway answered 502.
	e.srv.ServerError(http.MethodPost, issuesPath, http.StatusBadGateway, true)
	ref, created, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.False(t, created, "found by its marker, not filed again")
	require.EqualValues(t, 1, ref.Number)
	require.Len(t, e.srv.Issues(repo), 1, "one issue, not two")
	require.Equal(t, 1, e.srv.Count(http.MethodPost, issuesPath))
}

func TestServerErrorOnListIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.ServerError(http.MethodGet, issuesPath, http.StatusServiceUnavailable, false)
	_, created, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 2, e.srv.Count(http.MethodGet, issuesPath))
}

func TestServerErrorsExhaustAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.MaxAttempts = 3 })
	for range 5 {
		e.srv.ServerError(http.MethodGet, issuesPath, http.StatusBadGateway, false)
	}
	_, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.ErrorIs(t, err, tracker.ErrUnavailable)
	require.True(t, tracker.IsRetryable(err))
	var te *tracker.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, http.StatusBadGateway, te.Status)
	require.Equal(t, 3, e.srv.Count(http.MethodGet, issuesPath), "MaxAttempts requests, then give up")
	require.Zero(t, e.srv.Count(http.MethodPost, issuesPath))
}

func TestCreateServerErrorsExhaustAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.MaxAttempts = 2 })
	for range 3 {
		e.srv.ServerError(http.MethodPost, issuesPath, http.StatusInternalServerError, false)
	}
	_, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.ErrorIs(t, err, tracker.ErrUnavailable)
	require.Equal(t, 2, e.srv.Count(http.MethodPost, issuesPath))
	require.Equal(t, 2, e.srv.Count(http.MethodGet, issuesPath), "looked again before the second POST")
	require.Empty(t, e.srv.Issues(repo))
}

func TestPrimaryRateLimitWaitsForReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reset := time.Now().Add(time.Second)
	e.srv.ExhaustRateLimit(reset)
	_, created, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.True(t, created)
	require.False(t, time.Now().Before(reset), "waited until the reset")

	limited := 0
	for _, r := range e.srv.Requests() {
		if r.Status == http.StatusForbidden {
			limited++
		}
	}
	require.Equal(t, 1, limited, "one refused request, then a wait, not a hammering")
	require.Len(t, e.srv.Issues(repo), 1)
	require.Contains(t, e.logs.String(), "rate limited; waiting")
}

func TestSecondaryRateLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SecondaryRateLimit(http.MethodPost, issuesPath, time.Second)
	start := time.Now()
	_, created, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.True(t, created)
	require.GreaterOrEqual(t, time.Since(start), time.Second)
	require.Equal(t, 2, e.srv.Count(http.MethodPost, issuesPath))
	require.Len(t, e.srv.Issues(repo), 1)
}

func TestRateLimitBeyondBudgetIsRetryableWithRetryAt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.MaxWait = 200 * time.Millisecond })
	reset := time.Now().Add(time.Hour)
	e.srv.ExhaustRateLimit(reset)
	start := time.Now()
	_, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.Less(t, time.Since(start), 2*time.Second)
	require.ErrorIs(t, err, tracker.ErrRateLimited)
	require.True(t, tracker.IsRetryable(err))
	at, ok := tracker.RetryAt(err)
	require.True(t, ok)
	require.WithinDuration(t, reset, at, time.Second)

	// The next call holds back without asking GitHub again.
	n := len(e.srv.Requests())
	_, err = e.tr.Get(t.Context(), tracker.Ref{Tracker: "github", Repo: repo, Number: 1})
	require.ErrorIs(t, err, tracker.ErrRateLimited)
	require.Len(t, e.srv.Requests(), n)
}

func TestCancelDuringRateLimitWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.MaxWait = time.Minute })
	e.srv.ExhaustRateLimit(time.Now().Add(30 * time.Second))
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := e.tr.Open(ctx, fp, sampleIssue())
	require.Less(t, time.Since(start), 2*time.Second, "returns promptly")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, tracker.IsRetryable(err))
}

func TestDeadlineDuringBackoffIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.BackoffBase, c.BackoffMax = 10*time.Second, 10*time.Second })
	e.srv.ServerError(http.MethodGet, issuesPath, http.StatusBadGateway, false)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, _, err := e.tr.Open(ctx, fp, sampleIssue())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, tracker.IsRetryable(err))
}

func TestBadCredentialsArePermanent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.Token = "ghp_wrongWrongWrong" })
	_, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.ErrorIs(t, err, tracker.ErrUnauthorized)
	require.True(t, tracker.IsPermanent(err))
	require.Contains(t, err.Error(), "Bad credentials")
	require.Len(t, e.srv.Requests(), 1, "no retries")
}

func TestUnknownRepoIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.Repo = "nixos/nope" })
	_, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.ErrorIs(t, err, tracker.ErrNotFound)
	require.True(t, tracker.IsPermanent(err))
	require.Len(t, e.srv.Requests(), 1)
}

func TestRejectedAssigneesFallBackToMentions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SetAssignable("alice")
	is := sampleIssue()
	is.Assignees = []string{"alice", "@ghost"}
	ref, created, err := e.tr.Open(t.Context(), fp, is)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 2, e.srv.Count(http.MethodPost, issuesPath))

	issues := e.srv.Issues(repo)
	require.Len(t, issues, 1)
	require.Empty(t, issues[0].Assignees)
	require.Contains(t, issues[0].Body, "cc @alice @ghost")
	require.Contains(t, issues[0].Body, tracker.FingerprintMarker(fp), "the marker survives the fallback")
	require.Contains(t, e.logs.String(), "rejected the assignees")

	again, created, err := e.tr.Open(t.Context(), fp, is)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, ref, again)
}

func TestAcceptedAssignees(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SetAssignable("alice", "bob")
	is := sampleIssue()
	is.Assignees = []string{"alice", "bob"}
	_, _, err := e.tr.Open(t.Context(), fp, is)
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "bob"}, e.srv.Issues(repo)[0].Assignees)
	require.NotContains(t, e.srv.Issues(repo)[0].Body, "cc @")
}

func TestFindsIssueOnSecondPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The oldest issue carries the fingerprint; 150 newer ones push it to page 2 of
	// a newest-first listing.
	want := e.srv.SeedIssue(repo, githubtest.BotLogin, "libfoo: build fails in wave-2-1", "old\n\n"+tracker.FingerprintMarker(fp), "crest")
	for i := range 150 {
		e.srv.SeedIssue(repo, githubtest.BotLogin, fmt.Sprintf("pkg%d: build fails", i), tracker.FingerprintMarker(fmt.Sprintf("other%d", i)), "crest")
	}
	e.srv.SeedIssue(repo, "mallory", "unlabelled", tracker.FingerprintMarker(fp)) // not ours: no label

	ref, created, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.False(t, created)
	require.EqualValues(t, want, ref.Number)
	require.Zero(t, e.srv.Count(http.MethodPost, issuesPath))

	var pages []string
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodGet && r.Path == issuesPath {
			pages = append(pages, r.Query.Get("page"))
			require.Equal(t, "crest", r.Query.Get("labels"))
			require.Equal(t, "open", r.Query.Get("state"))
			require.Equal(t, "100", r.Query.Get("per_page"))
		}
	}
	require.Equal(t, []string{"", "2"}, pages)
}

func TestCommentAfterAmbiguousFailureIsNotDuplicated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ref, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	commentsPath := fmt.Sprintf("%s/%d/comments", issuesPath, ref.Number)
	e.srv.ServerError(http.MethodPost, commentsPath, http.StatusGatewayTimeout, true)
	require.NoError(t, e.tr.Comment(t.Context(), ref, "wave-3-3/recurred", "Still failing."))
	require.NoError(t, e.tr.Comment(t.Context(), ref, "wave-3-3/recurred", "Still failing."))
	require.Len(t, e.srv.Issues(repo)[0].Comments, 1)
	require.Equal(t, 1, e.srv.Count(http.MethodPost, commentsPath))
}

func TestCommentFoundBeyondFirstPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ref, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.NoError(t, e.tr.Comment(t.Context(), ref, "wave-3-2/recurred", "first"))
	for i := range 120 {
		e.srv.AddComment(repo, int(ref.Number), "alice", fmt.Sprintf("me too %d", i))
	}
	require.NoError(t, e.tr.Comment(t.Context(), ref, "wave-3-3/recurred", "second"))
	require.NoError(t, e.tr.Comment(t.Context(), ref, "wave-3-3/recurred", "second"))
	st, err := e.tr.Get(t.Context(), ref)
	require.NoError(t, err)
	require.Equal(t, 122, st.Comments)
	require.False(t, st.LastExternalComment.IsZero())
}

func TestCloseReasons(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ref, _, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	ev := tracker.Event{Kind: tracker.EventWontFix, Package: "libfoo", Major: 3, Minor: 2, By: "alice", Reason: "upstream is dead"}
	reason, closes := ev.CloseReason()
	require.True(t, closes)
	require.NoError(t, e.tr.Close(t.Context(), ref, reason, ev.Key(), tracker.RenderEvent(ev)))
	is := e.srv.Issues(repo)[0]
	require.Equal(t, "closed", is.State)
	require.Equal(t, "not_planned", is.StateReason)
	st, err := e.tr.Get(t.Context(), ref)
	require.NoError(t, err)
	require.Equal(t, tracker.ReasonNotPlanned, st.Reason)
}

func TestEnterpriseBaseURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.BaseURL += "api/v3/" })
	_, created, err := e.tr.Open(t.Context(), fp, sampleIssue())
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, e.srv.Issues(repo), 1)
}

func TestRefOfAnotherTrackerIsInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.tr.Get(t.Context(), tracker.Ref{Tracker: "local", Number: 1})
	require.ErrorIs(t, err, tracker.ErrInvalid)
	require.Empty(t, e.srv.Requests())
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []github.Config{
		{Repo: "nixpkgs", Token: canary},
		{Repo: "a/b/c", Token: canary},
		{Repo: "nixos/nixpkgs"},
		{Repo: "nixos/nixpkgs", Token: canary, BaseURL: "ftp://x/"},
	} {
		_, err := github.New(cfg)
		require.Error(t, err, "%+v", cfg)
		require.NotContains(t, err.Error(), canary)
	}
}

func TestTokenIsRedactedWhenPrinted(t *testing.T) {
	t.Parallel()
	cfg := github.Config{Repo: repo, Token: canary}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		require.NotContains(t, fmt.Sprintf(verb, cfg), canary, verb)
		require.NotContains(t, fmt.Sprintf(verb, cfg.Token), canary, verb)
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	require.NotContains(t, string(b), canary)
	var logs syncBuffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "token", cfg.Token)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg, "token", cfg.Token)
	require.NotContains(t, logs.String(), canary)
	require.Contains(t, logs.String(), "[redacted]")
}

// TestNoTokenLeaks runs every path, good and bad, against a server that quotes the
// Authorization header in its error messages, and looks for the token in every log line,
// error and returned value.
func TestNoTokenLeaks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.MaxAttempts = 2 })
	e.srv.EchoCredentials(true)
	ctx := t.Context()

	// The server really does leak the token into error text: a plain go-github client
	// would pass it on.
	raw, err := gh.NewClient(gh.WithAuthToken(canary), gh.WithURLs(gh.Ptr(e.srv.URL()), gh.Ptr(e.srv.URL())))
	require.NoError(t, err)
	_, _, rawErr := raw.Issues.Get(ctx, "nixos", "nope", 1)
	require.ErrorContains(t, rawErr, canary, "the canary must be in the server's error text")
	// And even without an echoing server, go-github's error holds the token: its
	// response holds the request, whose header holds it. Hence the rebuilt errors.
	quiet := githubtest.New(t, canary)
	raw2, err := gh.NewClient(gh.WithAuthToken(canary), gh.WithURLs(gh.Ptr(quiet.URL()), gh.Ptr(quiet.URL())))
	require.NoError(t, err)
	_, _, rawErr = raw2.Issues.Get(ctx, "nixos", "nope", 1)
	require.NotContains(t, rawErr.Error(), canary)
	require.True(t, reaches(reflect.ValueOf(rawErr), canary, map[uintptr]bool{}), "the deep scan finds what Error() hides")

	var results []any
	keep := func(vs ...any) { results = append(results, vs...) }

	// Happy path with faults on the way.
	e.srv.ServerError(http.MethodGet, issuesPath, http.StatusBadGateway, false)
	e.srv.ServerError(http.MethodPost, issuesPath, http.StatusBadGateway, true)
	ref, created, err := e.tr.Open(ctx, fp, sampleIssue())
	require.NoError(t, err)
	keep(ref, created)
	keep(e.tr.Comment(ctx, ref, "wave-3-3/recurred", "Still failing."))
	e.srv.SecondaryRateLimit(http.MethodPatch, fmt.Sprintf("%s/%d", issuesPath, ref.Number), 0)
	keep(e.tr.Close(ctx, ref, tracker.ReasonCompleted, "wave-3-4/fixed", "Fixed."))
	keep(e.tr.Get(ctx, ref))

	// Failures: 5xx exhausted, 404, 422, 403, rate limit beyond budget.
	var errs []error
	for range 3 {
		e.srv.ServerError(http.MethodGet, fmt.Sprintf("%s/%d", issuesPath, ref.Number), http.StatusServiceUnavailable, false)
	}
	_, err = e.tr.Get(ctx, ref)
	errs = append(errs, err)
	_, err = e.tr.Get(ctx, tracker.Ref{Tracker: "github", Repo: "nixos/nope", Number: 1})
	errs = append(errs, err)
	e.srv.SetAssignable()
	is := sampleIssue()
	is.Title = "assignees will be rejected"
	is.Assignees = []string{"ghost"}
	keep(e.tr.Open(ctx, tracker.Fingerprint("libbar", "x"), is))
	e.srv.Inject(githubtest.Fault{Method: http.MethodPost, Status: http.StatusForbidden})
	errs = append(errs, e.tr.Comment(ctx, ref, "wave-3-5/recurred", "x"))
	e.srv.Inject(githubtest.Fault{Method: http.MethodPost, Status: http.StatusUnprocessableEntity})
	errs = append(errs, e.tr.Comment(ctx, ref, "wave-3-6/recurred", "x"))

	// 401 with another distinctive token.
	const wrong = "ghp_WrongCanary0d9e8f7a6b5c4d3e2f1aZZ"
	bad := newEnv(t, func(c *github.Config) { c.Token = wrong })
	bad.srv.EchoCredentials(true)
	_, _, err = bad.tr.Open(ctx, fp, sampleIssue())
	require.ErrorIs(t, err, tracker.ErrUnauthorized)
	errs = append(errs, err)

	// Rate limit beyond the budget.
	limited := newEnv(t, func(c *github.Config) { c.MaxWait = 10 * time.Millisecond })
	limited.srv.EchoCredentials(true)
	limited.srv.ExhaustRateLimit(time.Now().Add(time.Hour))
	_, _, err = limited.tr.Open(ctx, fp, sampleIssue())
	require.ErrorIs(t, err, tracker.ErrRateLimited)
	errs = append(errs, err)

	for i, err := range errs {
		require.Error(t, err, "error %d", i)
	}
	for _, secret := range []string{canary, wrong} {
		for i, err := range errs {
			require.NotContains(t, err.Error(), secret, "error %d", i)
			require.NotContains(t, fmt.Sprintf("%+v %#v", err, err), secret, "error %d", i)
			require.False(t, reaches(reflect.ValueOf(err), secret, map[uintptr]bool{}), "error %d holds the token: %v", i, err)
		}
		for i, v := range results {
			require.False(t, reaches(reflect.ValueOf(v), secret, map[uintptr]bool{}), "result %d holds the token: %#v", i, v)
		}
		for _, logs := range []string{e.logs.String(), bad.logs.String(), limited.logs.String()} {
			require.NotContains(t, logs, secret)
		}
	}
	require.NotEmpty(t, e.logs.String())
	require.Contains(t, e.logs.String(), "[redacted]", "echoed credentials were scrubbed, not absent")
}

// reaches reports whether secret is in any string reachable from v.
func reaches(v reflect.Value, secret string, seen map[uintptr]bool) bool {
	if !v.IsValid() {
		return false
	}
	switch v.Kind() {
	case reflect.String:
		return strings.Contains(v.String(), secret)
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return false
		}
		seen[v.Pointer()] = true
		return reaches(v.Elem(), secret, seen)
	case reflect.Interface:
		return reaches(v.Elem(), secret, seen)
	case reflect.Struct:
		for i := range v.NumField() {
			if reaches(v.Field(i), secret, seen) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return bytes.Contains(v.Bytes(), []byte(secret))
		}
		for i := range v.Len() {
			if reaches(v.Index(i), secret, seen) {
				return true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if reaches(it.Key(), secret, seen) || reaches(it.Value(), secret, seen) {
				return true
			}
		}
	}
	return false
}

package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v88/github"

	"github.com/crestwaves/crest/activities/tracker"
)

// Name is the tracker name of GitHub issues: Ref.Tracker of the issues it files.
const Name = "github"

// Defaults for Config's zero fields.
const (
	DefaultBaseURL         = "https://api.github.com/"
	DefaultLabel           = "crest"
	DefaultRequestTimeout  = 30 * time.Second
	DefaultMaxAttempts     = 4
	DefaultBackoffBase     = 500 * time.Millisecond
	DefaultBackoffMax      = 8 * time.Second
	DefaultMaxWait         = time.Minute
	DefaultRateLimitBuffer = time.Second
	// secondaryDefaultWait is GitHub's advice for a secondary limit without Retry-After:
	// "wait for at least one minute".
	secondaryDefaultWait = time.Minute
	// maxTextBytes keeps bodies under GitHub's 65,536-character limit.
	maxTextBytes = 65000
)

// Config configures a Tracker. Only Repo and Token are required.
type Config struct {
	// Repo is the repository issues are filed in, "owner/name".
	Repo string `json:"repo"`
	// Token authenticates every request; it needs Issues read/write (and triage, so
	// that labels stick: Open finds issues again by the label).
	Token Token `json:"token"`
	// BaseURL is the REST API root: DefaultBaseURL, or "https://HOST/api/v3/" for
	// GitHub Enterprise Server.
	BaseURL string `json:"base_url,omitempty"`
	// Label marks every issue Crest files and narrows the search for fingerprints.
	Label string `json:"label,omitempty"`
	// Logger receives one line per filed issue, comment, retry and wait; nil discards.
	Logger *slog.Logger `json:"-"`
	// HTTPClient is the client to send requests with (its transport and timeout);
	// nil means a new one with RequestTimeout.
	HTTPClient *http.Client `json:"-"`
	// RequestTimeout bounds one HTTP request when HTTPClient is nil.
	RequestTimeout time.Duration `json:"request_timeout,omitempty"`
	// MaxAttempts bounds the attempts of one request on 5xx and network errors.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// BackoffBase is the first wait between those attempts; the n-th waits
	// BackoffBase·2^(n-1), at most BackoffMax, less up to half of it at random.
	BackoffBase time.Duration `json:"backoff_base,omitempty"`
	// BackoffMax caps the wait between attempts.
	BackoffMax time.Duration `json:"backoff_max,omitempty"`
	// MaxWait is how long one call may wait in total on rate limits before it returns a
	// retryable error with RetryAt instead.
	MaxWait time.Duration `json:"max_wait,omitempty"`
	// RateLimitBuffer is added to every rate-limit wait, against clock skew and the
	// one-second resolution of X-RateLimit-Reset.
	RateLimitBuffer time.Duration `json:"rate_limit_buffer,omitempty"`
	// UserAgent identifies Crest to GitHub.
	UserAgent string `json:"user_agent,omitempty"`
}

// Tracker files and follows issues in one GitHub repository. It implements
// tracker.Tracker and is safe for concurrent use.
type Tracker struct {
	cfg         Config // Token cleared; the scrubber keeps it
	owner, name string
	client      *gh.Client
	log         *slog.Logger
	scrub       *scrubber

	mu           sync.Mutex
	blockedUntil time.Time // rate limited until then, for every call
}

var _ tracker.Tracker = (*Tracker)(nil)

// New returns a Tracker for cfg.
func New(cfg Config) (*Tracker, error) {
	owner, name, err := splitRepo(cfg.Repo)
	if err != nil {
		return nil, fmt.Errorf("github tracker: %w", err)
	}
	if cfg.Token == "" {
		return nil, errors.New("github tracker: no token")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("github tracker: base URL %q: want http(s)://host/path/", cfg.BaseURL)
	}
	if cfg.Label == "" {
		cfg.Label = DefaultLabel
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.RateLimitBuffer <= 0 {
		cfg.RateLimitBuffer = DefaultRateLimitBuffer
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "crest (+https://github.com/crestwaves/crest)"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	hc := &http.Client{Timeout: cfg.RequestTimeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = &authTransport{next: next, host: base.Host, header: "Bearer " + string(cfg.Token)}
	hc.CheckRedirect = sameHostRedirects(hc.CheckRedirect)

	client, err := gh.NewClient(
		gh.WithHTTPClient(hc),
		gh.WithURLs(&cfg.BaseURL, &cfg.BaseURL),
		gh.WithUserAgent(cfg.UserAgent),
		// Crest keeps its own rate-limit state: go-github's would fail fast with errors
		// we then could not tell from GitHub's.
		gh.WithDisableRateLimitCheck(),
	)
	if err != nil {
		return nil, fmt.Errorf("github tracker: %w", err)
	}
	t := &Tracker{
		owner: owner, name: name, client: client,
		log:   log.With("tracker", Name, "repo", cfg.Repo),
		scrub: newScrubber(string(cfg.Token)),
	}
	cfg.Token = ""
	t.cfg = cfg
	return t, nil
}

// Name implements tracker.Tracker.
func (t *Tracker) Name() string { return Name }

// Open implements tracker.Tracker: it looks for an open issue carrying the Crest label
// and fingerprint's marker, and files issue (with the label and the marker) if there is
// none.
func (t *Tracker) Open(ctx context.Context, fingerprint string, issue tracker.Issue) (tracker.Ref, bool, error) {
	c := t.newCall("open")
	if err := tracker.ValidateKey("fingerprint", fingerprint); err != nil {
		return tracker.Ref{}, false, c.invalid(err)
	}
	if strings.TrimSpace(issue.Title) == "" {
		return tracker.Ref{}, false, c.invalidf("empty title")
	}
	marker := tracker.FingerprintMarker(fingerprint)
	title := strings.Join(strings.Fields(issue.Title), " ")
	labels := t.labels(issue.Labels)
	assignees := logins(issue.Assignees)
	text := issue.Body
	log := t.log.With("op", "open", "fingerprint", fingerprint)

	for attempt := 1; ; attempt++ {
		ref, found, err := t.findIssue(ctx, c, marker)
		if err != nil {
			return tracker.Ref{}, false, err
		}
		if found {
			log.Info("found open issue for fingerprint", "issue", ref.Number)
			return ref, false, nil
		}
		is, err := t.createIssue(ctx, c, title, withMarker(text, marker), labels, assignees)
		if err != nil && len(assignees) > 0 && rejectsAssignees(err) {
			log.Warn("GitHub rejected the assignees; filing without them and mentioning them instead",
				"assignees", strings.Join(assignees, ","), "err", err)
			text = issue.Body + mentionNote(assignees)
			assignees = nil
			is, err = t.createIssue(ctx, c, title, withMarker(text, marker), labels, nil)
		}
		if err == nil {
			ref := t.ref(is)
			if !slices.ContainsFunc(is.Labels, func(l *gh.Label) bool { return strings.EqualFold(l.GetName(), t.cfg.Label) }) {
				log.Warn("GitHub dropped the Crest label (token lacks triage access?): a retry may not find this issue",
					"issue", ref.Number, "label", t.cfg.Label)
			}
			log.Info("filed issue", "issue", ref.Number, "url", ref.URL)
			return ref, true, nil
		}
		if !errors.Is(err, tracker.ErrUnavailable) || attempt >= t.cfg.MaxAttempts {
			return tracker.Ref{}, false, err
		}
		// The issue may exist despite the error: look again before the next attempt.
		d := t.backoff(attempt)
		log.Warn("filing failed; looking for the issue again before retrying", "attempt", attempt, "backoff", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return tracker.Ref{}, false, c.canceled(err)
		}
	}
}

// Comment implements tracker.Tracker: it adds body with key's marker unless a comment
// with that marker is on the issue.
func (t *Tracker) Comment(ctx context.Context, ref tracker.Ref, key, body string) error {
	c := t.newCall("comment")
	owner, name, number, err := t.target(c, ref)
	if err != nil {
		return err
	}
	return t.comment(ctx, c, owner, name, number, key, body)
}

// Close implements tracker.Tracker: the comment first (so it reads before the close
// event), then the state change, which is idempotent.
func (t *Tracker) Close(ctx context.Context, ref tracker.Ref, reason tracker.CloseReason, key, body string) error {
	c := t.newCall("close")
	if !reason.Valid() {
		return c.invalidf("close reason %q", reason)
	}
	owner, name, number, err := t.target(c, ref)
	if err != nil {
		return err
	}
	if body != "" {
		if err := t.comment(ctx, c, owner, name, number, key, body); err != nil {
			return err
		}
	}
	req := &gh.IssueRequest{State: gh.Ptr("closed"), StateReason: gh.Ptr(string(reason))}
	err = c.do(ctx, true, func(ctx context.Context) (*gh.Response, error) {
		_, resp, err := t.client.Issues.Edit(ctx, owner, name, number, req)
		return resp, err
	})
	if err != nil {
		return err
	}
	t.log.Info("closed issue", "op", "close", "issue", number, "reason", string(reason))
	return nil
}

// Get implements tracker.Tracker. LastExternalComment is the newest comment without a
// Crest marker.
func (t *Tracker) Get(ctx context.Context, ref tracker.Ref) (tracker.State, error) {
	c := t.newCall("get")
	owner, name, number, err := t.target(c, ref)
	if err != nil {
		return tracker.State{}, err
	}
	var is *gh.Issue
	err = c.do(ctx, true, func(ctx context.Context) (*gh.Response, error) {
		var resp *gh.Response
		var err error
		is, resp, err = t.client.Issues.Get(ctx, owner, name, number)
		return resp, err
	})
	if err != nil {
		return tracker.State{}, err
	}
	if is.PullRequestLinks != nil {
		return tracker.State{}, &tracker.Error{Tracker: Name, Op: "get", Kind: tracker.ErrNotFound, Status: http.StatusOK,
			Message: fmt.Sprintf("#%d is a pull request", number)}
	}
	st := tracker.State{
		Ref:       t.ref(is),
		Status:    tracker.StatusOpen,
		Comments:  is.GetComments(),
		UpdatedAt: is.GetUpdatedAt().Time,
		ClosedAt:  is.GetClosedAt().Time,
	}
	st.Ref.Repo = owner + "/" + name
	if is.GetState() == "closed" {
		st.Status = tracker.StatusClosed
		if r := tracker.CloseReason(is.GetStateReason()); r.Valid() {
			st.Reason = r
		}
	}
	if st.Comments > 0 {
		err := t.eachComment(ctx, c, owner, name, number, func(cm *gh.IssueComment) bool {
			if at := cm.GetCreatedAt().Time; !tracker.HasMarker(cm.GetBody()) && at.After(st.LastExternalComment) {
				st.LastExternalComment = at
			}
			return true
		})
		if err != nil {
			return tracker.State{}, err
		}
	}
	return st, nil
}

// findIssue pages through the open issues with the Crest label, newest first, for one
// whose body carries marker.
func (t *Tracker) findIssue(ctx context.Context, c *call, marker string) (tracker.Ref, bool, error) {
	opts := &gh.IssueListByRepoOptions{
		State: "open", Labels: []string{t.cfg.Label}, Sort: "created", Direction: "desc",
		ListOptions: gh.ListOptions{PerPage: 100},
	}
	var ref tracker.Ref
	found := false
	err := pages(ctx, c, func(ctx context.Context, page int) ([]*gh.Issue, *gh.Response, error) {
		opts.ListOptions.Page = page
		return t.client.Issues.ListByRepo(ctx, t.owner, t.name, opts)
	}, func(is *gh.Issue) bool {
		if is.PullRequestLinks == nil && strings.Contains(is.GetBody(), marker) {
			ref, found = t.ref(is), true
		}
		return !found
	})
	return ref, found, err
}

// createIssue sends one POST; 5xx and network errors are returned, not retried, since
// the issue may have been created.
func (t *Tracker) createIssue(ctx context.Context, c *call, title, body string, labels, assignees []string) (*gh.Issue, error) {
	req := &gh.IssueRequest{Title: &title, Body: &body, Labels: &labels}
	if len(assignees) > 0 {
		req.Assignees = &assignees
	}
	var is *gh.Issue
	err := c.do(ctx, false, func(ctx context.Context) (*gh.Response, error) {
		var resp *gh.Response
		var err error
		is, resp, err = t.client.Issues.Create(ctx, t.owner, t.name, req)
		return resp, err
	})
	if err == nil && is == nil {
		err = &tracker.Error{Tracker: Name, Op: c.op, Kind: tracker.ErrUnavailable, Message: "empty response"}
	}
	return is, err
}

// comment adds a keyed comment unless it is there; see Open for the retry loop.
func (t *Tracker) comment(ctx context.Context, c *call, owner, name string, number int, key, body string) error {
	if err := tracker.ValidateKey("comment key", key); err != nil {
		return c.invalid(err)
	}
	if strings.TrimSpace(body) == "" {
		return c.invalidf("empty comment body")
	}
	marker := tracker.CommentMarker(key)
	text := withMarker(body, marker)
	log := t.log.With("op", c.op, "issue", number, "key", key)
	for attempt := 1; ; attempt++ {
		found := false
		err := t.eachComment(ctx, c, owner, name, number, func(cm *gh.IssueComment) bool {
			found = strings.Contains(cm.GetBody(), marker)
			return !found
		})
		if err != nil {
			return err
		}
		if found {
			log.Debug("comment already there")
			return nil
		}
		err = c.do(ctx, false, func(ctx context.Context) (*gh.Response, error) {
			_, resp, err := t.client.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: &text})
			return resp, err
		})
		if err == nil {
			log.Info("commented")
			return nil
		}
		if !errors.Is(err, tracker.ErrUnavailable) || attempt >= t.cfg.MaxAttempts {
			return err
		}
		d := t.backoff(attempt)
		log.Warn("commenting failed; looking for the comment again before retrying", "attempt", attempt, "backoff", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return c.canceled(err)
		}
	}
}

// eachComment calls fn on the issue's comments, oldest first, until fn returns false.
func (t *Tracker) eachComment(ctx context.Context, c *call, owner, name string, number int, fn func(*gh.IssueComment) bool) error {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	return pages(ctx, c, func(ctx context.Context, page int) ([]*gh.IssueComment, *gh.Response, error) {
		opts.Page = page
		return t.client.Issues.ListComments(ctx, owner, name, number, opts)
	}, fn)
}

// pages calls list for each page of a listing (the caller asks for 100 a page; Link
// pagination says which is next) under the retry policy, and fn on each item, until
// the last page or until fn returns false.
func pages[T any](ctx context.Context, c *call, list func(ctx context.Context, page int) ([]T, *gh.Response, error), fn func(T) bool) error {
	for page := 0; ; {
		var items []T
		var resp *gh.Response
		err := c.do(ctx, true, func(ctx context.Context) (*gh.Response, error) {
			var err error
			items, resp, err = list(ctx, page)
			return resp, err
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if !fn(it) {
				return nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		page = resp.NextPage
	}
}

// target resolves ref to owner, name and number in this tracker.
func (t *Tracker) target(c *call, ref tracker.Ref) (string, string, int, error) {
	if ref.Tracker != "" && ref.Tracker != Name {
		return "", "", 0, c.invalidf("ref of tracker %q", ref.Tracker)
	}
	if ref.Number <= 0 || int64(int(ref.Number)) != ref.Number {
		return "", "", 0, c.invalidf("issue number %d", ref.Number)
	}
	if ref.Repo == "" {
		return t.owner, t.name, int(ref.Number), nil
	}
	owner, name, err := splitRepo(ref.Repo)
	if err != nil {
		return "", "", 0, c.invalidf("%v", err)
	}
	return owner, name, int(ref.Number), nil
}

func (t *Tracker) ref(is *gh.Issue) tracker.Ref {
	return tracker.Ref{
		Tracker: Name,
		Repo:    t.cfg.Repo,
		Number:  int64(is.GetNumber()),
		URL:     t.scrub.clean(is.GetHTMLURL()),
	}
}

// labels puts the Crest label first, then the issue's own, without duplicates.
func (t *Tracker) labels(extra []string) []string {
	out := []string{t.cfg.Label}
	for _, l := range extra {
		l = strings.TrimSpace(l)
		if l != "" && !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, l) }) {
			out = append(out, l)
		}
	}
	return out
}

func splitRepo(repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(repo, " \t\n?#") {
		return "", "", fmt.Errorf("repository %q: want owner/name", repo)
	}
	return owner, name, nil
}

// logins cleans GitHub logins: no "@", only the characters GitHub allows.
func logins(in []string) []string {
	var out []string
	for _, l := range in {
		l = strings.TrimPrefix(strings.TrimSpace(l), "@")
		ok := l != ""
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '[' || r == ']') {
				ok = false
			}
		}
		if ok && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func mentionNote(assignees []string) string {
	at := make([]string, len(assignees))
	for i, a := range assignees {
		at[i] = "@" + a
	}
	return "\n\n---\n\ncc " + strings.Join(at, " ") +
		": GitHub did not let Crest assign this issue to you, so it mentions you instead.\n"
}

// withMarker appends marker to body, cutting body if the whole would be too long.
func withMarker(body, marker string) string {
	body = strings.TrimRight(body, "\n ")
	room := maxTextBytes - len(marker) - len("\n\n… (truncated)\n\n\n")
	if len(body) > room {
		cut := room
		for cut > 0 && body[cut]&0xC0 == 0x80 {
			cut--
		}
		body = body[:cut] + "\n\n… (truncated)"
	}
	if body == "" {
		return marker + "\n"
	}
	return body + "\n\n" + marker + "\n"
}

// rejectsAssignees reports whether err is GitHub's 422 about the assignees.
func rejectsAssignees(err error) bool {
	var e *tracker.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity {
		return false
	}
	for _, f := range e.Fields {
		if f == "assignees" || f == "assignee" {
			return true
		}
	}
	return strings.Contains(strings.ToLower(e.Message), "assignee")
}

// authTransport adds the token to requests for the API host, and to no other.
type authTransport struct {
	next   http.RoundTripper
	host   string
	header string
}

// RoundTrip implements http.RoundTripper.
func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != a.host {
		return a.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", a.header)
	return a.next.RoundTrip(r)
}

// sameHostRedirects refuses redirects to another host, so a redirect cannot carry
// requests (and whatever they say) elsewhere.
func sameHostRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && req.URL.Host != via[0].URL.Host {
			return http.ErrUseLastResponse
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

package github

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v88/github"

	"github.com/crestwaves/crest/activities/tracker"
)

// call is one Tracker method call: it names the errors and carries the rate-limit wait
// budget across the requests the method makes.
type call struct {
	t      *Tracker
	op     string
	waited time.Duration
}

func (t *Tracker) newCall(op string) *call { return &call{t: t, op: op} }

func (c *call) invalid(err error) error {
	var e *tracker.Error
	if errors.As(err, &e) {
		return &tracker.Error{Tracker: Name, Op: c.op, Kind: tracker.ErrInvalid, Message: c.t.scrub.clean(e.Message)}
	}
	return c.invalidf("%s", c.t.scrub.clean(err.Error()))
}

func (c *call) invalidf(format string, args ...any) error {
	return &tracker.Error{Tracker: Name, Op: c.op, Kind: tracker.ErrInvalid, Message: c.t.scrub.clean(fmt.Sprintf(format, args...))}
}

func (c *call) canceled(err error) error {
	return &tracker.Error{Tracker: Name, Op: c.op, Cause: err}
}

// do runs one API request under the retry policy. Rate limits wait within the call's
// budget (the request was refused, so repeating it is safe). 5xx and network errors are
// retried with backoff only when idempotent; otherwise they are returned at once, for
// the caller to find out whether the write happened.
func (c *call) do(ctx context.Context, idempotent bool, fn func(context.Context) (*gh.Response, error)) error {
	t := c.t
	for attempt := 1; ; attempt++ {
		if err := c.waitForGate(ctx, nil); err != nil {
			return err
		}
		resp, err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return c.canceled(ctx.Err())
		}
		e := t.classify(c.op, resp, err)
		switch {
		case errors.Is(e, tracker.ErrRateLimited):
			// A reset in the past (clock skew) still waits the buffer, so that every
			// round spends budget and the loop ends.
			if now := time.Now(); e.RetryAt.Before(now) {
				e.RetryAt = now
			}
			t.block(e.RetryAt)
			if err := c.waitForGate(ctx, e); err != nil {
				return err
			}
			attempt-- // a refused request does not use up an attempt; the wait budget bounds these
		case errors.Is(e, tracker.ErrUnavailable) && idempotent && attempt < t.cfg.MaxAttempts:
			d := t.backoff(attempt)
			t.log.Warn("request failed; retrying", "op", c.op, "attempt", attempt, "backoff", d, "err", e)
			if err := sleep(ctx, d); err != nil {
				return c.canceled(err)
			}
		default:
			return e
		}
	}
}

// waitForGate waits out a rate limit the Tracker is under, if the call's budget allows;
// otherwise it returns limited (GitHub's answer, when this call got one) or a retryable
// ErrRateLimited carrying the time the limit lifts.
func (c *call) waitForGate(ctx context.Context, limited *tracker.Error) error {
	t := c.t
	t.mu.Lock()
	until := t.blockedUntil
	t.mu.Unlock()
	if until.IsZero() {
		return nil
	}
	wait := time.Until(until) + t.cfg.RateLimitBuffer
	if wait <= 0 {
		return nil
	}
	if c.waited+wait > t.cfg.MaxWait {
		t.log.Warn("rate limited beyond the wait budget; giving up for now", "op", c.op,
			"retry_at", until.UTC().Format(time.RFC3339), "max_wait", t.cfg.MaxWait)
		if limited != nil {
			return limited
		}
		return &tracker.Error{Tracker: Name, Op: c.op, Kind: tracker.ErrRateLimited, RetryAt: until,
			Message: fmt.Sprintf("rate limited for %s, more than the %s this call may wait", wait.Round(time.Second), t.cfg.MaxWait)}
	}
	t.log.Warn("rate limited; waiting", "op", c.op, "wait", wait.Round(time.Millisecond),
		"retry_at", until.UTC().Format(time.RFC3339))
	if err := sleep(ctx, wait); err != nil {
		return c.canceled(err)
	}
	c.waited += wait
	return nil
}

// block holds back every call until until.
func (t *Tracker) block(until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.blockedUntil) {
		t.blockedUntil = until
	}
}

// backoff is the wait before attempt+1: base·2^(attempt-1), capped, minus up to half.
func (t *Tracker) backoff(attempt int) time.Duration {
	d := t.cfg.BackoffMax
	if attempt-1 < 30 {
		if b := t.cfg.BackoffBase << (attempt - 1); b > 0 && b < d {
			d = b
		}
	}
	return d - rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// classify turns a go-github failure into a tracker.Error built only from safe parts:
// the status, the rate-limit headers and GitHub's message, scrubbed. The go-github
// error itself is dropped: it holds the response, whose request holds the token.
func (t *Tracker) classify(op string, resp *gh.Response, err error) *tracker.Error {
	e := &tracker.Error{Tracker: Name, Op: op}
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	if hr == nil {
		e.Kind = tracker.ErrUnavailable
		e.Message = t.scrub.clean(transportMessage(err))
		return e
	}
	e.Status = hr.StatusCode
	msg, fields, doc := details(err)
	e.Message, e.Fields = t.scrub.clean(msg), fields
	now := time.Now()
	s := hr.StatusCode
	limited := s == http.StatusForbidden || s == http.StatusTooManyRequests
	var abuse *gh.AbuseRateLimitError
	switch {
	case limited && hr.Header.Get(gh.HeaderRateRemaining) == "0":
		e.Kind = tracker.ErrRateLimited
		e.RetryAt = now.Add(secondaryDefaultWait)
		if reset, err := strconv.ParseInt(hr.Header.Get(gh.HeaderRateReset), 10, 64); err == nil && reset > 0 {
			e.RetryAt = time.Unix(reset, 0)
		}
		if ra, ok := retryAfter(hr.Header, now); ok && ra.After(e.RetryAt) {
			e.RetryAt = ra
		}
	case limited && hr.Header.Get("Retry-After") != "":
		e.Kind = tracker.ErrRateLimited
		e.RetryAt, _ = retryAfter(hr.Header, now)
	case limited && (errors.As(err, &abuse) || strings.Contains(doc, "secondary-rate-limits") || strings.Contains(doc, "abuse-rate-limits")),
		s == http.StatusTooManyRequests:
		e.Kind = tracker.ErrRateLimited
		e.RetryAt = now.Add(secondaryDefaultWait)
	case s == http.StatusUnauthorized:
		e.Kind = tracker.ErrUnauthorized
	case s == http.StatusForbidden:
		e.Kind = tracker.ErrForbidden
	case s == http.StatusNotFound || s == http.StatusGone:
		e.Kind = tracker.ErrNotFound
	case s >= 500 || s == http.StatusAccepted || s == http.StatusRequestTimeout:
		e.Kind = tracker.ErrUnavailable
	case s >= 300 && s < 400:
		e.Kind = tracker.ErrInvalid
		e.Message = "unexpected redirect (to another host?)"
	case s >= 400:
		e.Kind = tracker.ErrInvalid
	default: // 2xx whose body did not decode
		e.Kind = tracker.ErrUnavailable
		if e.Message == "" {
			e.Message = "unreadable response"
		}
	}
	return e
}

// retryAfter reads Retry-After, in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Time, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return time.Time{}, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return now.Add(time.Duration(secs) * time.Second), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return at, true
	}
	return now.Add(secondaryDefaultWait), true
}

// details extracts GitHub's message, the rejected fields and the documentation URL.
func details(err error) (msg string, fields []string, doc string) {
	var er *gh.ErrorResponse
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	var tf *gh.TwoFactorAuthError
	switch {
	case errors.As(err, &er):
		msg, doc = er.Message, er.DocumentationURL
		for _, fe := range er.Errors {
			if fe.Field != "" {
				fields = append(fields, fe.Field)
			} else if fe.Message != "" {
				msg += "; " + fe.Message
			}
		}
	case errors.As(err, &rl):
		msg = rl.Message
	case errors.As(err, &ab):
		msg = ab.Message
	case errors.As(err, &tf):
		msg = "two-factor authentication required"
	default:
		// A body that did not decode, or something go-github made up: keep its text,
		// which names no request (scrubbed all the same).
		msg = err.Error()
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg, fields, doc
}

// transportMessage describes a failure to get any response, without the URL.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return strings.ToLower(ue.Op) + " request: timed out"
		}
		return strings.ToLower(ue.Op) + " request: " + ue.Err.Error()
	}
	return err.Error()
}

// scrubber removes secrets from text headed for errors, logs and results.
type scrubber struct{ secrets []string }

func newScrubber(token string) *scrubber {
	s := &scrubber{}
	if token != "" {
		s.secrets = []string{token, url.QueryEscape(token), url.PathEscape(token)}
	}
	return s
}

func (s *scrubber) clean(text string) string {
	for _, sec := range s.secrets {
		if sec != "" {
			text = strings.ReplaceAll(text, sec, redacted)
		}
	}
	return text
}

package tracker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The kinds of tracker failure. Every error a Tracker returns matches one of them with
// errors.Is (or is a context error); IsRetryable tells the two families apart.
var (
	// ErrNotFound: the issue or repository does not exist (or is not visible).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the tracker rejected the credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the credentials are valid but may not do this (or the issue is locked).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: the tracker rejected the request itself (validation, bad argument).
	ErrInvalid = errors.New("invalid request")
	// ErrRateLimited: the tracker asked us to slow down; Error.RetryAt says until when.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: the tracker failed or was unreachable (5xx, network, timeout).
	ErrUnavailable = errors.New("unavailable")
)

// Error is a classified tracker failure. Its text and fields are safe to log and to
// record: adapters build it from scrubbed parts and never wrap transport errors that
// could carry credentials.
type Error struct {
	Tracker string // Tracker.Name
	Op      string // "open", "comment", "close", "get", or the adapter's finer step
	Kind    error  // one of the Err* sentinels; nil when Cause is a context error
	Status  int    // HTTP status when there was one
	// Message is the tracker's explanation, scrubbed of credentials.
	Message string
	// Fields names request fields the tracker rejected (validation errors).
	Fields []string
	// RetryAt is the earliest time a retry can succeed, when the tracker said so
	// (rate limit reset, Retry-After). Zero when unknown.
	RetryAt time.Time
	// Cause is an optional underlying error that is safe to expose: the context's error
	// when the call was canceled or timed out (Kind is nil then).
	Cause error
}

// Error returns "<tracker>: <op>: <kind>[ (<status>)][: <message>][: <cause>]" and the
// rejected fields and retry time when known.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Tracker != "" {
		b.WriteString(e.Tracker)
		b.WriteString(": ")
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	parts := make([]string, 0, 3)
	if e.Kind != nil {
		k := e.Kind.Error()
		if e.Status != 0 {
			k += fmt.Sprintf(" (%d)", e.Status)
		}
		parts = append(parts, k)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Cause != nil {
		parts = append(parts, e.Cause.Error())
	}
	b.WriteString(strings.Join(parts, ": "))
	if len(e.Fields) > 0 {
		fmt.Fprintf(&b, " [fields: %s]", strings.Join(e.Fields, ", "))
	}
	if !e.RetryAt.IsZero() {
		fmt.Fprintf(&b, " [retry at %s]", e.RetryAt.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// Unwrap exposes the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// IsPermanent reports whether err will fail the same way however often it is retried:
// not found, unauthorized, forbidden, invalid, or a canceled context. The activity layer
// turns these into non-retryable errors.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return true
	}
	if errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable) {
		return false
	}
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnauthorized) ||
		errors.Is(err, ErrForbidden) || errors.Is(err, ErrInvalid)
}

// IsRetryable reports whether retrying the call later may succeed: rate limits, tracker
// outages, deadlines, and errors no adapter classified (such as a database error in a
// local tracker), because an unknown failure is more often the infrastructure's than
// the request's. nil is not retryable.
func IsRetryable(err error) bool {
	return err != nil && !IsPermanent(err)
}

// RetryAt returns the earliest time the tracker said a retry can succeed, if err says.
func RetryAt(err error) (time.Time, bool) {
	var e *Error
	if errors.As(err, &e) && !e.RetryAt.IsZero() {
		return e.RetryAt, true
	}
	return time.Time{}, false
}

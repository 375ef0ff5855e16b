package filer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
)

// Filer files and updates issues for root causes in one tracker, exactly once per event,
// through the store's outbox. Its methods are safe for concurrent use with different
// fingerprints; see the package documentation for one fingerprint.
type Filer struct {
	Store   *store.Store
	Tracker tracker.Tracker
	Logger  *slog.Logger     // nil discards
	Now     func() time.Time // stamps the store's rows; nil means time.Now
}

// ErrNoOpenIssue is what Resolved returns when the failure has no open issue to write to
// (it was never filed, or is closed already by another resolution). It matches
// tracker.ErrNotFound, so it is permanent; callers that resolve every failure may treat it
// as "nothing to write".
var ErrNoOpenIssue = fmt.Errorf("no open issue: %w", tracker.ErrNotFound)

// eventOpen is the event (and outbox key suffix) of filing an issue.
const eventOpen tracker.EventKind = "open"

// Update is the root update that made the minor wave rebuild the package.
type Update struct {
	Package string `json:"package"`
	Ref     string `json:"ref,omitempty"` // git ref (branch, tag or commit) of its new version
}

// String renders the update for the issue body: "openssl (update/openssl-3.0.14)".
func (u Update) String() string {
	switch {
	case u.Package == "":
		return ""
	case u.Ref == "":
		return u.Package
	default:
		return u.Package + " (" + u.Ref + ")"
	}
}

// RootCauseReport is a root cause seen in a minor wave: what its issue says.
type RootCauseReport struct {
	Collection string        `json:"collection"`
	Package    string        `json:"package"`         // attribute path
	Phase      tracker.Phase `json:"phase,omitempty"` // build (default) or test
	// Maintainers are tracker logins, assigned to the issue.
	Maintainers []string `json:"maintainers,omitempty"`
	Major       int      `json:"major"` // <prefix>-N-M: N
	Minor       int      `json:"minor"` // and M
	// Attempt tells apart reports of one minor wave (a retry after a fix commit that
	// fails the same way); 0 for the first.
	Attempt int    `json:"attempt,omitempty"`
	System  string `json:"system,omitempty"`
	Commit  string `json:"commit,omitempty"` // collection commit the minor wave built
	Branch  string `json:"branch,omitempty"` // where a fix goes
	Update  Update `json:"update,omitzero"`  // what set the rebuild off
	Drv     string `json:"drv,omitempty"`
	LogTail string `json:"log_tail"` // the failing log's tail: with Package, the fingerprint
	LogURL  string `json:"log_url,omitempty"`
	// Dependents are the packages the failure keeps from building.
	Dependents []string  `json:"dependents,omitempty"`
	Deadline   time.Time `json:"deadline,omitzero"` // end of the grace period; zero if none
	Protected  bool      `json:"protected,omitempty"`
	// Patch and Wave name a security patch and the security tag its rebuild makes, when the
	// failure is there (tracker.Report.Patch): Major and Minor are the finished tag's.
	Patch string `json:"patch,omitempty"`
	Wave  string `json:"wave,omitempty"`
}

// Fingerprint returns the dedupe key of the report's failure.
func (r RootCauseReport) Fingerprint() string { return tracker.Fingerprint(r.Package, r.LogTail) }

// Report returns the report as the tracker's renderers take it, its waves named with
// tagPrefix (the collection's; empty for the default).
func (r RootCauseReport) Report(tagPrefix string) tracker.Report {
	phase := r.Phase
	if phase == "" {
		phase = tracker.PhaseBuild
	}
	return tracker.Report{
		Package: r.Package, Phase: phase, Major: r.Major, Minor: r.Minor, System: r.System,
		Commit: r.Commit, Branch: r.Branch, Update: r.Update.String(), Drv: r.Drv,
		LogTail: r.LogTail, LogURL: r.LogURL, Dependents: r.Dependents, Deadline: r.Deadline,
		Protected: r.Protected, TagPrefix: tagPrefix, Patch: r.Patch, Wave: r.Wave,
	}
}

// ResolutionReport is how a root cause was settled in a minor wave.
type ResolutionReport struct {
	Collection string `json:"collection"`
	Package    string `json:"package"`
	// Fingerprint names the failure (IssueRef.Fingerprint of its RootCause); when empty it
	// is computed from Package and LogTail, the failing log RootCause was given.
	Fingerprint string `json:"fingerprint,omitempty"`
	LogTail     string `json:"log_tail,omitempty"`
	// Resolution is fixed, wont-fix, cant-fix or marked-broken.
	Resolution tracker.EventKind `json:"resolution"`
	Major      int               `json:"major"` // <prefix>-N-M the resolution happened in: N
	Minor      int               `json:"minor"` // and M
	Attempt    int               `json:"attempt,omitempty"`
	System     string            `json:"system,omitempty"`
	Commit     string            `json:"commit,omitempty"`
	By         string            `json:"by,omitempty"`     // who decided (wont-fix, cant-fix)
	Reason     string            `json:"reason,omitempty"` // why; policy's reason for marked-broken
	// Wave names a security patch's rebuild the resolution happened in (RootCauseReport.Wave).
	Wave string `json:"wave,omitempty"`
}

// IssueRef is the issue an event was written to, as the call left it.
type IssueRef struct {
	ID          int64       `json:"id"` // the store's issue row
	Collection  string      `json:"collection"`
	Package     string      `json:"package"`
	Fingerprint string      `json:"fingerprint"`
	Ref         tracker.Ref `json:"ref"`
	State       string      `json:"state"` // open or closed
	// Opened says the call's event filed the issue (also when a retry returns it).
	Opened bool `json:"opened,omitempty"`
	// Event is the outbox key of the call's event.
	Event string `json:"event"`
}

// String returns where a person reads the issue: its URL, else "<tracker>#<number>".
func (r IssueRef) String() string {
	if r.Ref.URL != "" {
		return r.Ref.URL
	}
	if r.Ref.Repo != "" {
		return fmt.Sprintf("%s:%s#%d", r.Ref.Tracker, r.Ref.Repo, r.Ref.Number)
	}
	return fmt.Sprintf("%s#%d", r.Ref.Tracker, r.Ref.Number)
}

// EventKey returns the outbox key of event e of a failure:
// "<collection>/<fingerprint>/<prefix>-N-M/<kind>[/<attempt>]", the prefix the
// collection's.
func EventKey(collection, fingerprint string, e tracker.Event) string {
	return collection + "/" + fingerprint + "/" + e.Key()
}

// RootCause files the issue of a root cause seen in a minor wave the first time, and
// comments on the open issue when the same failure is seen again (a later minor or major
// wave, another attempt): exactly once per fingerprint, wave and attempt, even when called
// again after a crash at any point.
func (f *Filer) RootCause(ctx context.Context, r RootCauseReport) (IssueRef, error) {
	if err := checkWave(r.Collection, r.Package, r.Major, r.Minor, r.Attempt); err != nil {
		return IssueRef{}, fmt.Errorf("root cause: %w", err)
	}
	if r.Phase != "" && r.Phase != tracker.PhaseBuild && r.Phase != tracker.PhaseTest {
		return IssueRef{}, invalidf("root cause %s: phase %q is not build or test", r.Package, r.Phase)
	}
	prefix, err := f.Store.TagPrefix(ctx, r.Collection)
	if err != nil {
		return IssueRef{}, storeError(err)
	}
	fp := r.Fingerprint()
	rep := r.Report(prefix)
	title := tracker.Title(rep)
	open := tracker.Event{Kind: eventOpen, Package: r.Package, Major: r.Major, Minor: r.Minor, Attempt: r.Attempt, TagPrefix: prefix,
		Wave: r.Wave}
	recur := tracker.Event{
		Kind: tracker.EventRecurred, Package: r.Package, Major: r.Major, Minor: r.Minor, Attempt: r.Attempt,
		System: r.System, Commit: r.Commit, LogTail: r.LogTail, Dependents: r.Dependents, Deadline: r.Deadline,
		TagPrefix: prefix, Wave: r.Wave,
	}
	is, ev, err := f.Store.RecordRootCause(ctx, store.RootCauseRecord{
		Collection: r.Collection, Fingerprint: fp, Package: r.Package, Tracker: f.Tracker.Name(),
		Title: title, At: f.now(),
		Open: store.IssueEvent{
			Key: EventKey(r.Collection, fp, open), Kind: store.IssueEventOpen, Event: string(eventOpen),
			Major: r.Major, Minor: r.Minor, Attempt: r.Attempt,
			Title: title, Body: tracker.Body(rep), Labels: []string{rep.Label()},
			Assignees: logins(r.Maintainers),
		},
		Recur: store.IssueEvent{
			Key: EventKey(r.Collection, fp, recur), Kind: store.IssueEventComment, Event: string(recur.Kind),
			Major: r.Major, Minor: r.Minor, Attempt: r.Attempt,
			CommentKey: recur.Key(), Body: tracker.RenderEvent(recur),
		},
	})
	if err != nil {
		return IssueRef{}, storeError(err)
	}
	return f.deliver(ctx, is, ev)
}

// Resolved writes how a root cause was settled to its open issue, exactly once: fixed
// comments and closes it as completed; wont-fix and cant-fix comment and close it as not
// planned; marked-broken comments and leaves it open (the breakage is still there to
// repair). ErrNoOpenIssue when the failure has no open issue.
func (f *Filer) Resolved(ctx context.Context, r ResolutionReport) (IssueRef, error) {
	if err := checkWave(r.Collection, r.Package, r.Major, r.Minor, r.Attempt); err != nil {
		return IssueRef{}, fmt.Errorf("resolution: %w", err)
	}
	switch r.Resolution {
	case tracker.EventFixed, tracker.EventWontFix, tracker.EventCantFix, tracker.EventMarkedBroken:
	default:
		return IssueRef{}, invalidf("resolution of %s: %q is not fixed, wont-fix, cant-fix or marked-broken", r.Package, r.Resolution)
	}
	fp := r.Fingerprint
	if fp == "" {
		if strings.TrimSpace(r.LogTail) == "" {
			return IssueRef{}, invalidf("resolution of %s: no fingerprint and no log tail to compute it from", r.Package)
		}
		fp = tracker.Fingerprint(r.Package, r.LogTail)
	}
	// An unknown collection has no open issue: RecordIssueEvent says so below.
	prefix, err := f.Store.TagPrefix(ctx, r.Collection)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return IssueRef{}, storeError(err)
	}
	e := tracker.Event{
		Kind: r.Resolution, Package: r.Package, Major: r.Major, Minor: r.Minor, Attempt: r.Attempt,
		System: r.System, Commit: r.Commit, By: r.By, Reason: r.Reason, TagPrefix: prefix, Wave: r.Wave,
	}
	ev := store.IssueEvent{
		Key: EventKey(r.Collection, fp, e), Kind: store.IssueEventResolution, Event: string(e.Kind),
		Major: r.Major, Minor: r.Minor, Attempt: r.Attempt, CommentKey: e.Key(), Body: tracker.RenderEvent(e),
	}
	if reason, closes := e.CloseReason(); closes {
		ev.Kind, ev.CloseReason = store.IssueEventClose, string(reason)
	}
	is, rec, err := f.Store.RecordIssueEvent(ctx, r.Collection, fp, ev, f.now())
	if errors.Is(err, store.ErrNotFound) {
		return IssueRef{}, fmt.Errorf("%s of %s (fingerprint %s) in %s: %w", r.Resolution, r.Package, fp, r.Collection, ErrNoOpenIssue)
	}
	if err != nil {
		return IssueRef{}, storeError(err)
	}
	return f.deliver(ctx, is, rec)
}

// State asks the tracker where the issue stands: open or closed, comments, and when a
// person last commented (policy extends a grace period while maintainers talk).
func (f *Filer) State(ctx context.Context, ref IssueRef) (tracker.State, error) {
	if ref.Ref.Number == 0 {
		return tracker.State{}, fmt.Errorf("state of the issue of %s: not filed yet: %w", ref.Package, tracker.ErrNotFound)
	}
	st, err := f.Tracker.Get(ctx, ref.Ref)
	if err != nil {
		return tracker.State{}, fmt.Errorf("state of issue %s: %w", ref, err)
	}
	return st, nil
}

// IssuesOfPackage lists every issue of a package in a collection, open and closed,
// oldest first.
func (f *Filer) IssuesOfPackage(ctx context.Context, collection, pkg string) ([]store.Issue, error) {
	return f.Store.Issues(ctx, store.IssueFilter{Collection: collection, Package: pkg})
}

// OpenIssues lists the open issues of a collection, oldest first.
func (f *Filer) OpenIssues(ctx context.Context, collection string) ([]store.Issue, error) {
	return f.Store.Issues(ctx, store.IssueFilter{Collection: collection, State: store.IssueOpen})
}

// IssueByFingerprint returns the open issue of a failure, else its latest closed one;
// store.ErrNotFound if it never had one.
func (f *Filer) IssueByFingerprint(ctx context.Context, collection, fingerprint string) (store.Issue, error) {
	all, err := f.Store.Issues(ctx, store.IssueFilter{Collection: collection, Fingerprint: fingerprint})
	if err != nil {
		return store.Issue{}, err
	}
	if len(all) == 0 {
		return store.Issue{}, fmt.Errorf("issue of %s in %s: %w", fingerprint, collection, store.ErrNotFound)
	}
	if i := slices.IndexFunc(all, func(is store.Issue) bool { return is.State == store.IssueOpen }); i >= 0 {
		return all[i], nil
	}
	return all[len(all)-1], nil
}

// deliver makes the tracker do what ev asks, unless it is done, and returns the issue as
// the event left it. An issue whose filing never completed (an earlier call failed) is
// filed first.
func (f *Filer) deliver(ctx context.Context, is store.Issue, ev store.IssueEvent) (IssueRef, error) {
	if ev.State != store.IssueEventDone {
		if is.Tracker != f.Tracker.Name() {
			return IssueRef{}, invalidf("issue %d of %s is on tracker %q, this filer files into %q", is.ID, is.Package, is.Tracker, f.Tracker.Name())
		}
		if ev.Kind != store.IssueEventOpen && is.Number == 0 {
			first, err := f.Store.IssueOpenEvent(ctx, is.ID)
			if err != nil {
				return IssueRef{}, storeError(err)
			}
			if is, _, err = f.send(ctx, is, first); err != nil {
				return IssueRef{}, err
			}
		}
		var err error
		if is, ev, err = f.send(ctx, is, ev); err != nil {
			return IssueRef{}, err
		}
	}
	return IssueRef{
		ID: is.ID, Collection: is.Collection, Package: is.Package, Fingerprint: is.Fingerprint,
		Ref:   tracker.Ref{Tracker: is.Tracker, Repo: is.Repo, Number: is.Number, URL: is.URL},
		State: is.State, Opened: ev.Kind == store.IssueEventOpen, Event: ev.Key,
	}, nil
}

// send makes one tracker call for a pending event and records its outcome: the result and
// done on success, the attempt and the (scrubbed) error otherwise.
func (f *Filer) send(ctx context.Context, is store.Issue, ev store.IssueEvent) (store.Issue, store.IssueEvent, error) {
	if ev.State == store.IssueEventDone {
		return is, ev, nil
	}
	log := f.log().With("collection", is.Collection, "package", is.Package, "fingerprint", is.Fingerprint, "event", ev.Key)
	ref := tracker.Ref{Tracker: is.Tracker, Repo: is.Repo, Number: is.Number, URL: is.URL}
	var err error
	created := false
	switch ev.Kind {
	case store.IssueEventOpen:
		ref, created, err = f.Tracker.Open(ctx, is.Fingerprint, tracker.Issue{
			Title: ev.Title, Body: ev.Body, Labels: ev.Labels, Assignees: ev.Assignees,
		})
	case store.IssueEventComment, store.IssueEventResolution:
		err = f.Tracker.Comment(ctx, ref, ev.CommentKey, ev.Body)
	case store.IssueEventClose:
		err = f.Tracker.Close(ctx, ref, tracker.CloseReason(ev.CloseReason), ev.CommentKey, ev.Body)
	default:
		err = invalidf("issue event %s: unknown kind %q", ev.Key, ev.Kind)
	}
	if err != nil {
		// Record the attempt even when ctx is done: the row is what an operator looks at.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if ferr := f.Store.FailIssueEvent(rctx, ev.Key, err.Error()); ferr != nil {
			log.Warn("could not record the failed tracker call", "error", ferr)
		}
		log.Warn("tracker call failed", "kind", ev.Kind, "error", err, "retryable", tracker.IsRetryable(err))
		return is, ev, fmt.Errorf("%s issue of %s (%s): %w", verb(ev.Kind), is.Package, ev.Key, err)
	}
	is, ev, err = f.Store.CompleteIssueEvent(ctx, ev.Key, store.TrackerRef{Repo: ref.Repo, Number: ref.Number, URL: ref.URL}, f.now())
	if err != nil {
		return is, ev, storeError(err)
	}
	switch {
	case ev.Kind == store.IssueEventOpen && created:
		log.Info("filed issue", "issue", is.Number, "url", is.URL)
	case ev.Kind == store.IssueEventOpen:
		log.Info("found the issue an earlier attempt filed", "issue", is.Number, "url", is.URL)
	default:
		log.Info("wrote to issue", "kind", ev.Kind, "issue", is.Number, "state", is.State)
	}
	return is, ev, nil
}

func (f *Filer) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Filer) log() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func verb(kind string) string {
	switch kind {
	case store.IssueEventOpen:
		return "file"
	case store.IssueEventClose:
		return "close"
	default:
		return "comment on"
	}
}

// checkWave validates what every report names.
func checkWave(collection, pkg string, major, minor, attempt int) error {
	switch {
	case strings.TrimSpace(collection) == "":
		return invalidf("no collection")
	case strings.TrimSpace(pkg) == "":
		return invalidf("no package")
	case major < 1 || minor < 1:
		return invalidf("%s: minor wave %d of major wave %d does not exist (numbers start at 1)", pkg, minor, major)
	case attempt < 0:
		return invalidf("%s: attempt %d is negative", pkg, attempt)
	}
	return nil
}

// invalidf returns a permanent error: it matches tracker.ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), tracker.ErrInvalid)
}

// storeError marks an unknown collection as permanent; other store errors stay retryable.
func storeError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", err, tracker.ErrInvalid)
	}
	return err
}

// logins cleans the maintainers list: no blanks, no duplicates, no leading "@".
func logins(maintainers []string) []string {
	var out []string
	for _, m := range maintainers {
		m = strings.TrimPrefix(strings.TrimSpace(m), "@")
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

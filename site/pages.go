package site

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
)

// The view types are what pages render and what their JSON is: plain fields with
// snake_case names, stable for scripts.

// Counts tallies packages by status.
type Counts = store.Counts

// WaveView is a major wave in lists.
type WaveView struct {
	Collection string    `json:"collection"`
	Name       string    `json:"name"` // <prefix>-N, with the collection's tag prefix
	Number     int       `json:"number"`
	WorkflowID string    `json:"workflow_id"`
	Title      string    `json:"title,omitempty"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	BaseRef    string    `json:"base_ref"`
	BaseCommit string    `json:"base_commit,omitempty"`
	Branch     string    `json:"branch"`
	MinorWaves int       `json:"minor_waves"`
	Counts     Counts    `json:"counts"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// WavesPage is the front page.
type WavesPage struct {
	Title string     `json:"-"`
	Waves []WaveView `json:"waves"`
}

func (s *Server) waves(r *http.Request) (any, error) {
	ctx, cancel := withTimeout(r)
	defer cancel()
	ws, err := s.st.WaveOverviews(ctx, r.URL.Query().Get("collection"))
	if err != nil {
		return nil, err
	}
	p := WavesPage{Title: "Waves", Waves: []WaveView{}}
	for _, w := range ws {
		p.Waves = append(p.Waves, waveView(w))
	}
	return p, nil
}

func waveView(w store.WaveOverview) WaveView {
	return WaveView{Collection: w.Collection, Name: w.Name(), Number: w.Number,
		WorkflowID: w.WorkflowID, Title: w.Title, State: w.State, Reason: w.Reason, BaseRef: w.BaseRef,
		BaseCommit: w.BaseCommit, Branch: w.Branch, MinorWaves: w.MinorWaves, Counts: w.Counts,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// MinorView is a minor wave on its wave's page.
type MinorView struct {
	Name       string          `json:"name"` // <prefix>-N-M
	Number     int             `json:"number"`
	State      string          `json:"state"`
	Reason     string          `json:"reason,omitempty"`
	Updates    json.RawMessage `json:"updates"`
	Commit     string          `json:"commit,omitempty"`
	Tag        string          `json:"tag,omitempty"`
	Counts     Counts          `json:"counts"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	// Burndown is the address of its burndown picture as SVG (.png and .json beside it).
	Burndown string `json:"burndown"`
	// NotGreen are its root causes: failed packages whose dependencies all built, each
	// with what it blocks.
	NotGreen []RootCauseView `json:"not_green"`
}

// RootCauseView is a root cause of a minor wave.
type RootCauseView struct {
	Package    string   `json:"package"`
	System     string   `json:"system"`
	Status     string   `json:"status"`
	Resolution string   `json:"resolution,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Blocks     []string `json:"blocks,omitempty"`
}

// WavePage is a major wave with its pictures and its minor waves.
type WavePage struct {
	Title      string      `json:"-"`
	Wave       WaveView    `json:"wave"`
	Pictures   Pictures    `json:"pictures"`
	MinorWaves []MinorView `json:"minor_waves"`
}

// Pictures are the addresses of a major wave's pictures as SVG; the same addresses with
// .png and .json are the PNG and the data.
type Pictures struct {
	Burndown string `json:"burndown"`
	Failures string `json:"failures"`
	Gantt    string `json:"gantt"`
}

// findWave finds the major wave a path names with its collection's tag prefix
// (/waves/demo/wave-1, /waves/rels/rel-1).
func (s *Server) findWave(r *http.Request) (store.Wave, error) {
	col, name := r.PathValue("collection"), r.PathValue("wave")
	ctx, cancel := withTimeout(r)
	defer cancel()
	prefix, err := s.st.TagPrefix(ctx, col)
	if errors.Is(err, store.ErrNotFound) {
		return store.Wave{}, errNotFound{what: "collection " + col}
	}
	if err != nil {
		return store.Wave{}, err
	}
	n, minor, ok := wavename.Parse(prefix, name)
	if !ok || minor != 0 {
		return store.Wave{}, errNotFound{what: "wave " + name + " of " + col}
	}
	w, err := s.st.WaveByNumber(ctx, col, n)
	if errors.Is(err, store.ErrNotFound) {
		return w, errNotFound{what: "wave " + name + " of " + col}
	}
	return w, err
}

func (s *Server) wave(r *http.Request) (any, error) {
	w, err := s.findWave(r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	minors, err := s.st.MinorOverviews(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	o := store.WaveOverview{Wave: w, MinorWaves: len(minors)}
	p := WavePage{MinorWaves: []MinorView{}}
	for _, m := range minors {
		addCounts(&o.Counts, m.Counts)
		mv := MinorView{Name: m.Name, Number: m.Number, State: m.State, Reason: m.Reason, Updates: m.Updates,
			Commit: m.Commit, Tag: m.Tag, Counts: m.Counts, StartedAt: m.StartedAt, FinishedAt: m.FinishedAt,
			Burndown: fmt.Sprintf("/waves/%s/%s/burndown/%s.svg", w.Collection, w.Name(), wavename.Minor(w.TagPrefix, w.Number, m.Number)),
			NotGreen: []RootCauseView{}}
		rcs, err := s.st.RootCauses(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		for _, rc := range rcs {
			if rc.Status == store.StatusPassed {
				continue // fixed since
			}
			mv.NotGreen = append(mv.NotGreen, RootCauseView{Package: rc.Package, System: rc.System, Status: rc.Status,
				Resolution: rc.Resolution, Reason: rc.Reason, Blocks: rc.Dependents})
		}
		p.MinorWaves = append(p.MinorWaves, mv)
	}
	p.Wave = waveView(o)
	p.Title = w.Collection + " " + p.Wave.Name
	base := "/waves/" + url.PathEscape(w.Collection) + "/" + url.PathEscape(w.Name()) + "/"
	p.Pictures = Pictures{Burndown: base + ChartBurndown + ".svg", Failures: base + ChartFailures + ".svg", Gantt: base + ChartGantt + ".svg"}
	return p, nil
}

func addCounts(to *Counts, c Counts) {
	to.Total += c.Total
	to.Pending += c.Pending
	to.Passed += c.Passed
	to.Failed += c.Failed
	to.TestFailed += c.TestFailed
	to.DependencyFailed += c.DependencyFailed
	to.Resolved += c.Resolved
	to.Unresolved += c.Unresolved
}

// ExcuseView is where a package stands in one minor wave on one system.
type ExcuseView struct {
	Wave       string        `json:"wave"`
	MinorWave  string        `json:"minor_wave"`
	MinorState string        `json:"minor_wave_state"`
	System     string        `json:"system"`
	Status     string        `json:"status"`
	Green      bool          `json:"green"`
	Resolution string        `json:"resolution,omitempty"`
	Reason     string        `json:"reason,omitempty"` // why it waits, until when, what happens then
	Why        string        `json:"why"`              // one sentence: why it is (not) green
	Issue      string        `json:"issue,omitempty"`
	NotifiedAt *time.Time    `json:"notified_at,omitempty"`
	BlockedBy  []BlockerView `json:"blocked_by,omitempty"`
	Attempts   int           `json:"attempts"`
	LastError  string        `json:"last_error,omitempty"`
	LogTail    string        `json:"log_tail,omitempty"`
	Drv        string        `json:"drv"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

// BlockerView is a root cause blocking a package.
type BlockerView struct {
	Package    string `json:"package"`
	Status     string `json:"status"`
	Resolution string `json:"resolution,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Issue      string `json:"issue,omitempty"`
}

// PackagePage is a package's excuses, newest first, and the tag to pin it to.
type PackagePage struct {
	Title      string       `json:"-"`
	Collection string       `json:"collection"`
	Package    string       `json:"package"`
	Excuses    []ExcuseView `json:"excuses"`
	Pin        PinView      `json:"pin"`
}

// PinView is the answer of `crest pin`.
type PinView struct {
	Tag     string `json:"tag,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Closure int    `json:"closure,omitempty"`
	// Unfinished: Tag is an unfinished minor wave's (asked for with ?unfinished=1), with
	// Unverified packages still neither green nor settled.
	Unfinished bool                 `json:"unfinished,omitempty"`
	Unverified int                  `json:"unverified,omitempty"`
	Answer     string               `json:"answer"` // the answer in one sentence
	Rejected   []store.PinRejection `json:"rejected,omitempty"`
}

func (s *Server) pkg(r *http.Request) (any, error) {
	col, name := r.PathValue("collection"), r.PathValue("package")
	ctx, cancel := withTimeout(r)
	defer cancel()
	if _, err := s.st.CollectionByName(ctx, col); errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound{what: "collection " + col}
	} else if err != nil {
		return nil, err
	}
	ex, err := s.st.Excuses(ctx, col, name)
	if err != nil {
		return nil, err
	}
	p := PackagePage{Title: name + " in " + col, Collection: col, Package: name, Excuses: []ExcuseView{}}
	for _, e := range ex {
		v := ExcuseView{Wave: e.Wave, MinorWave: e.MinorWave, MinorState: e.MinorState, System: e.System,
			Status: e.Status, Resolution: e.Resolution, Reason: e.Reason, Issue: e.Issue, NotifiedAt: e.NotifiedAt,
			Attempts: e.Attempts, LastError: e.LastError, LogTail: e.LogTail, Drv: e.Drv, UpdatedAt: e.UpdatedAt}
		for _, b := range e.Blockers {
			v.BlockedBy = append(v.BlockedBy, BlockerView(b))
		}
		v.Green, v.Why = why(e)
		p.Excuses = append(p.Excuses, v)
	}
	p.Pin, err = s.pinAnswer(r, col, name)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// why says in one sentence why a package is or is not green in a minor wave.
func why(e store.Excuse) (bool, string) {
	switch e.Status {
	case store.StatusPassed:
		if e.Resolution == "fixed" {
			return true, "built and tested green after a fix"
		}
		return true, "built and tested green"
	case store.StatusPending:
		if e.LastError != "" {
			return false, "not built yet: its build is being retried (" + e.LastError + ")"
		}
		return false, "not built yet: waiting for its turn or its dependencies"
	case store.StatusDependencyFailed:
		var roots []string
		for _, b := range e.Blockers {
			roots = append(roots, b.Package)
		}
		if len(roots) == 0 {
			roots = e.BlockedBy
		}
		sort.Strings(roots)
		msg := fmt.Sprintf("not built: a dependency failed (root cause %s)", joinAnd(roots))
		if e.Resolution != "" {
			msg += "; settled as " + e.Resolution
		}
		return false, msg
	default: // failed, test-failed
		what := "its build failed"
		if e.Status == store.StatusTestFailed {
			what = "it built, but a test failed"
		}
		switch {
		case e.Resolution != "":
			return false, what + "; settled as " + e.Resolution
		case e.Issue != "":
			return false, what + "; its maintainers were told in " + e.Issue + " and the wave waits for an answer"
		default:
			return false, what + "; the wave waits for a resolution"
		}
	}
}

func joinAnd(ss []string) string {
	switch len(ss) {
	case 0:
		return "unknown"
	case 1:
		return ss[0]
	}
	out := ss[0]
	for _, s := range ss[1 : len(ss)-1] {
		out += ", " + s
	}
	return out + " and " + ss[len(ss)-1]
}

func (s *Server) pinAnswer(r *http.Request, col, pkg string) (PinView, error) {
	ctx, cancel := withTimeout(r)
	defer cancel()
	opts := store.PinOptions{Unfinished: r.URL.Query().Get("unfinished") != ""}
	res, err := s.st.Pin(ctx, col, pkg, opts)
	v := PinView{Tag: res.Tag, Commit: res.Commit, Closure: res.Closure, Rejected: res.Rejected,
		Unfinished: res.Unfinished, Unverified: res.Unverified}
	switch {
	case err == nil && res.Unfinished:
		v.Answer = fmt.Sprintf("Pin %s to %s (commit %.12s): it and its whole build closure (%d packages) are green there, "+
			"but that minor wave is unfinished: %d of its packages are not verified yet.", pkg, res.Tag, res.Commit, res.Closure, res.Unverified)
	case err == nil:
		v.Answer = fmt.Sprintf("Pin %s to %s (commit %.12s): it and its whole build closure (%d packages) are green there.",
			pkg, res.Tag, res.Commit, res.Closure)
	case errors.Is(err, store.ErrNoGreenTag):
		v.Answer = fmt.Sprintf("No tag of %s has %s green with its whole build closure yet.", col, pkg)
	case errors.Is(err, store.ErrNotFound):
		v.Answer = fmt.Sprintf("%s is not a package of %s at any tag.", pkg, col)
	default:
		return v, err
	}
	return v, nil
}

// TagsPage lists tags and asks "which tag for my package?".
type TagsPage struct {
	Title       string      `json:"-"`
	Collections []string    `json:"collections"`
	Tags        []store.Tag `json:"tags"`
}

func (s *Server) tags(r *http.Request) (any, error) {
	ctx, cancel := withTimeout(r)
	defer cancel()
	cols, err := s.st.Collections(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := s.st.Tags(ctx, r.URL.Query().Get("collection"))
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []store.Tag{}
	}
	return TagsPage{Title: "Tags", Collections: cols, Tags: tags}, nil
}

// PinPage is `crest pin` as a page.
type PinPage struct {
	Title      string  `json:"-"`
	Collection string  `json:"collection"`
	Package    string  `json:"package"`
	Pin        PinView `json:"pin"`
}

func (s *Server) pin(r *http.Request) (any, error) {
	q := r.URL.Query()
	col, pkg := q.Get("collection"), q.Get("package")
	if col == "" || pkg == "" {
		return nil, fmt.Errorf("pin: collection and package are required: %w", errBadRequest)
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	if _, err := s.st.CollectionByName(ctx, col); errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound{what: "collection " + col}
	} else if err != nil {
		return nil, err
	}
	v, err := s.pinAnswer(r, col, pkg)
	if err != nil {
		return nil, err
	}
	return PinPage{Title: "Which tag for " + pkg, Collection: col, Package: pkg, Pin: v}, nil
}

// IssuesPage lists the issues Crest filed.
type IssuesPage struct {
	Title  string        `json:"-"`
	State  string        `json:"state,omitempty"`
	Issues []store.Issue `json:"issues"`
}

func (s *Server) issues(r *http.Request) (any, error) {
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && state != store.IssueOpen && state != store.IssueClosed {
		return nil, fmt.Errorf("state %q: want open or closed: %w", state, errBadRequest)
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	is, err := s.st.Issues(ctx, store.IssueFilter{Collection: q.Get("collection"), Package: q.Get("package"), State: state})
	if err != nil {
		return nil, err
	}
	if is == nil {
		is = []store.Issue{}
	}
	return IssuesPage{Title: "Issues", State: state, Issues: is}, nil
}

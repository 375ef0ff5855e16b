package site

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/charts"
	"github.com/crestwaves/crest/graph/planview"
)

// The pictures of a major wave, by name: the site serves them as
// /waves/<collection>/<wave>/<kind>.svg (or .png, or .json for their data), and
// `crest wave chart --kind` draws them to a file.
const (
	// ChartBurndown is the remaining builds over time: one line per minor wave, and their
	// sum for the major wave.
	ChartBurndown = "burndown"
	// ChartFailures is the failures recorded and settled over time, by kind, and the
	// failures still open.
	ChartFailures = "failures"
	// ChartGantt is the wave map: each minor wave's planned and actual start and finish.
	ChartGantt = "gantt"
)

// ChartKinds lists the pictures of a major wave.
var ChartKinds = []string{ChartBurndown, ChartFailures, ChartGantt}

// WaveChart loads what the picture kind of major wave w shows and returns it with its data
// (what the JSON of the picture is). Now ends the lines of a wave still running.
func WaveChart(ctx context.Context, st *store.Store, w store.Wave, kind string, now time.Time) (charts.Chart, any, error) {
	switch kind {
	case ChartBurndown:
		return waveBurndown(ctx, st, w, now)
	case ChartFailures:
		return waveFailures(ctx, st, w, now)
	case ChartGantt:
		return waveGantt(ctx, st, w, now)
	}
	return nil, nil, fmt.Errorf("picture %q: want %s", kind, strings.Join(ChartKinds, ", "))
}

// BurndownData is the JSON of a burndown.
type BurndownData struct {
	Wave       string         `json:"wave"`
	MinorWaves []store.Series `json:"minor_waves"`
	Total      []store.Sample `json:"total"`
}

func waveBurndown(ctx context.Context, st *store.Store, w store.Wave, now time.Time) (charts.Chart, any, error) {
	wb, err := st.WaveBurndown(ctx, w.ID)
	if err != nil {
		return nil, nil, err
	}
	minors := make([]store.MinorWave, len(wb.Minor))
	data := BurndownData{Wave: w.Name(), MinorWaves: []store.Series{}, Total: nonNil(wb.Total)}
	c := charts.Burndown{Title: "Remaining builds of " + w.Name(), Total: series(w.Name()+" (all minor waves)", wb.Total)}
	for i, m := range wb.Minor {
		minors[i] = m.MinorWave
		c.Minor = append(c.Minor, series(m.Name, m.Samples))
		data.MinorWaves = append(data.MinorWaves, store.Series{Name: m.Name, Samples: nonNil(m.Samples)})
	}
	c.Start, c.Now = span(minors, now)
	return c, data, nil
}

func waveFailures(ctx context.Context, st *store.Store, w store.Wave, now time.Time) (charts.Chart, any, error) {
	ft, err := st.FailureTimeline(ctx, w.ID)
	if err != nil {
		return nil, nil, err
	}
	minors, err := st.MinorWaves(ctx, w.ID)
	if err != nil {
		return nil, nil, err
	}
	c := charts.Failures{Title: "Failures and resolutions of " + w.Name(), Open: series("open (not settled)", ft.Open)}
	c.Start, c.Now = span(minors, now)
	for _, s := range ft.Recorded {
		c.Recorded = append(c.Recorded, series(s.Name, s.Samples))
	}
	for _, s := range ft.Settled {
		c.Settled = append(c.Settled, series("settled: "+s.Name, s.Samples))
	}
	data := map[string]any{"wave": w.Name(), "recorded": nonNilSeries(ft.Recorded), "settled": nonNilSeries(ft.Settled),
		"open": nonNil(ft.Open)}
	return c, data, nil
}

// GanttRow is a minor wave in the JSON of a Gantt chart. Planned times are the plan's
// estimates placed from when its first minor wave actually started (or from now, before
// any did).
type GanttRow struct {
	Name          string     `json:"name"`
	State         string     `json:"state"`
	PlannedStart  *time.Time `json:"planned_start,omitempty"`
	PlannedFinish *time.Time `json:"planned_finish,omitempty"`
	PlannedBuilds int        `json:"planned_builds,omitempty"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

func waveGantt(ctx context.Context, st *store.Store, w store.Wave, now time.Time) (charts.Chart, any, error) {
	sched, err := st.WaveSchedule(ctx, w)
	if err != nil {
		return nil, nil, err
	}
	origin := planOrigin(sched, now)
	c := charts.Gantt{Title: "Minor waves of " + w.Name() + ": planned and actual", Now: now}
	rows := []GanttRow{}
	for _, m := range sched {
		r := charts.GanttRow{Name: m.Name}
		row := GanttRow{Name: m.Name, State: m.State}
		if m.Planned {
			r.Planned = charts.Span{Start: origin.Add(m.PlannedStart), Finish: origin.Add(m.PlannedFinish)}
			row.PlannedStart, row.PlannedFinish, row.PlannedBuilds = &r.Planned.Start, &r.Planned.Finish, m.PlannedBuilds
			r.Label = fmt.Sprintf("planned · %d %s", m.PlannedBuilds, plural(m.PlannedBuilds, "build", "builds"))
		}
		if !m.StartedAt.IsZero() {
			r.Actual.Start = m.StartedAt
			row.StartedAt = &r.Actual.Start
			took := now.Sub(m.StartedAt)
			if m.FinishedAt != nil {
				r.Actual.Finish = *m.FinishedAt
				row.FinishedAt = m.FinishedAt
				took = m.FinishedAt.Sub(m.StartedAt)
			}
			r.Label = m.State + " · " + planview.Duration(took.Seconds())
			if m.FinishedAt == nil {
				r.Label += " so far"
			}
			if m.Planned {
				r.Label += " (planned " + planview.Duration((m.PlannedFinish - m.PlannedStart).Seconds()) + ")"
			}
		}
		c.Rows = append(c.Rows, r)
		rows = append(rows, row)
	}
	if finished(sched) {
		c.Now = time.Time{} // nothing runs: no "now" line far to the right of a finished wave
	}
	return c, map[string]any{"wave": w.Name(), "minor_waves": rows}, nil
}

// planOrigin is where a plan's offsets start: the start of its earliest planned minor
// wave that ran, less that wave's planned start; now when none ran yet.
func planOrigin(sched []store.ScheduledMinor, now time.Time) time.Time {
	var first *store.ScheduledMinor
	for i := range sched {
		m := &sched[i]
		if m.Planned && !m.StartedAt.IsZero() && (first == nil || m.PlannedStart < first.PlannedStart) {
			first = m
		}
	}
	if first == nil {
		return now
	}
	return first.StartedAt.Add(-first.PlannedStart)
}

// finished says every minor wave of a schedule ran to its end.
func finished(sched []store.ScheduledMinor) bool {
	return len(sched) > 0 && !slices.ContainsFunc(sched, func(m store.ScheduledMinor) bool { return m.FinishedAt == nil })
}

// span is the time a wave's lines cover: from its first minor wave's start to now, or to
// the last finish when every minor wave finished (an old wave's picture is not stretched
// to today).
func span(minors []store.MinorWave, now time.Time) (start, end time.Time) {
	end = now
	done := len(minors) > 0
	var last time.Time
	for _, m := range minors {
		if start.IsZero() || m.StartedAt.Before(start) {
			start = m.StartedAt
		}
		if m.FinishedAt == nil {
			done = false
		} else if m.FinishedAt.After(last) {
			last = *m.FinishedAt
		}
	}
	if done {
		end = last
	}
	return start, end
}

func series(name string, ss []store.Sample) charts.Series {
	out := charts.Series{Name: name, Points: make([]charts.Point, len(ss))}
	for i, s := range ss {
		out.Points[i] = charts.Point{At: s.At, Count: s.Count}
	}
	return out
}

func nonNil(ss []store.Sample) []store.Sample {
	if ss == nil {
		return []store.Sample{}
	}
	return ss
}

func nonNilSeries(ss []store.Series) []store.Series {
	if ss == nil {
		return []store.Series{}
	}
	return ss
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// picture parses a picture's file name: "burndown.svg" is (burndown, svg); without an
// extension it is SVG.
func picture(file string) (name string, f charts.Format, err error) {
	name, ext, ok := strings.Cut(file, ".")
	if !ok {
		return name, charts.SVG, nil
	}
	f, err = charts.ParseFormat(ext)
	return name, f, err
}

// waveChart serves a major wave's picture (/waves/demo/wave-1/burndown.svg), or its data
// as JSON (/waves/demo/wave-1/burndown.json).
func (s *Server) waveChart(w http.ResponseWriter, r *http.Request) {
	asJSON := r.URL.Query().Get("format") == "json"
	wave, err := s.findWave(r)
	if err != nil {
		s.fail(w, r, err, asJSON)
		return
	}
	kind, format, err := picture(r.PathValue("picture"))
	if err != nil || !slices.Contains(ChartKinds, kind) {
		s.fail(w, r, errNotFound{what: "picture " + r.PathValue("picture") + " of " + wave.Name()}, asJSON)
		return
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	c, data, err := WaveChart(ctx, s.st, wave, kind, s.opts.Now())
	if err != nil {
		s.fail(w, r, err, asJSON)
		return
	}
	if asJSON {
		s.page("", func(*http.Request) (any, error) { return data, nil })(w, r)
		return
	}
	s.draw(w, r, c, format)
}

// burndown serves a minor wave's remaining builds over time
// (/waves/demo/wave-1/burndown/wave-1-2.svg, named with the collection's tag prefix), or
// its samples as JSON.
func (s *Server) burndown(w http.ResponseWriter, r *http.Request) {
	asJSON := r.URL.Query().Get("format") == "json"
	wave, err := s.findWave(r)
	if err != nil {
		s.fail(w, r, err, asJSON)
		return
	}
	name, format, err := picture(r.PathValue("minor"))
	major, m, ok := wavename.Parse(wave.TagPrefix, name)
	if err != nil || !ok || major != wave.Number || m == 0 {
		s.fail(w, r, errNotFound{what: "minor wave " + r.PathValue("minor") + " of " + wave.Collection}, asJSON)
		return
	}
	ctx, cancel := withTimeout(r)
	defer cancel()
	minor, err := s.st.MinorWaveByNumber(ctx, wave.ID, m)
	if errors.Is(err, store.ErrNotFound) {
		err = errNotFound{what: "minor wave " + name + " of " + wave.Collection}
	}
	if err != nil {
		s.fail(w, r, err, asJSON)
		return
	}
	samples, err := s.st.Burndown(ctx, minor.ID)
	if err != nil {
		s.fail(w, r, err, asJSON)
		return
	}
	if asJSON {
		// The fields of the first version of this page, which scripts may read.
		type sample struct {
			At        string `json:"at"`
			Remaining int    `json:"remaining"`
		}
		out := []sample{}
		for _, smp := range samples {
			out = append(out, sample{At: smp.At.UTC().Format("2006-01-02T15:04:05Z"), Remaining: smp.Count})
		}
		s.page("", func(*http.Request) (any, error) {
			return map[string]any{"minor_wave": name, "samples": out}, nil
		})(w, r)
		return
	}
	c := charts.Burndown{Title: "Remaining builds of " + name, Minor: []charts.Series{series(name, samples)}}
	c.Start, c.Now = span([]store.MinorWave{minor}, s.opts.Now())
	s.draw(w, r, c, format)
}

// draw answers a picture.
func (s *Server) draw(w http.ResponseWriter, r *http.Request, c charts.Chart, f charts.Format) {
	var b bytes.Buffer
	if err := charts.Render(&b, c, f); err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b.Bytes())
}

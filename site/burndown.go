package site

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
)

var burndownColor = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}

// burndown serves a minor wave's remaining builds over time as SVG
// (/waves/demo/wave-1/burndown/wave-1-2.svg, named with the collection's tag prefix), or its
// samples as JSON.
func (s *Server) burndown(w http.ResponseWriter, r *http.Request) {
	asJSON := r.URL.Query().Get("format") == "json"
	wave, err := s.findWave(r)
	if err != nil {
		s.fail(w, r, err, asJSON)
		return
	}
	name := strings.TrimSuffix(r.PathValue("minor"), ".svg")
	major, m, ok := wavename.Parse(wave.TagPrefix, name)
	if !ok || major != wave.Number || m == 0 {
		s.fail(w, r, errNotFound{what: "minor wave " + name + " of " + wave.Collection}, asJSON)
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
		type sample struct {
			At        string `json:"at"`
			Remaining int    `json:"remaining"`
		}
		out := []sample{}
		for _, smp := range samples {
			out = append(out, sample{At: smp.At.UTC().Format("2006-01-02T15:04:05Z"), Remaining: smp.Remaining})
		}
		s.page("", func(*http.Request) (any, error) {
			return map[string]any{"minor_wave": name, "samples": out,
				"derived": "from each package's last result update; no sample table yet"}, nil
		})(w, r)
		return
	}
	var b bytes.Buffer
	if err := BurndownSVG(&b, name, samples, s.opts.Now()); err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b.Bytes())
}

// BurndownSVG draws a minor wave's remaining builds over the minutes since it started, as
// a step line that runs on flat until now while work remains.
func BurndownSVG(w io.Writer, name string, samples []store.BurndownSample, now time.Time) error {
	p := plot.New()
	p.Title.Text = "Remaining builds of " + name
	p.X.Label.Text = "minutes since the minor wave started"
	p.Y.Label.Text = "packages not yet settled"
	p.Y.Min = 0
	pts := plotter.XYs{}
	if len(samples) > 0 {
		start := samples[0].At
		minutes := func(t time.Time) float64 { return t.Sub(start).Minutes() }
		for i, smp := range samples {
			if i > 0 { // a step: the count holds until the next settlement
				pts = append(pts, plotter.XY{X: minutes(smp.At), Y: float64(samples[i-1].Remaining)})
			}
			pts = append(pts, plotter.XY{X: minutes(smp.At), Y: float64(smp.Remaining)})
		}
		last := samples[len(samples)-1]
		if last.Remaining > 0 && now.After(last.At) {
			pts = append(pts, plotter.XY{X: minutes(now), Y: float64(last.Remaining)})
		}
		p.Y.Max = max(1, float64(samples[0].Remaining)*1.05)
		p.X.Max = max(1, pts[len(pts)-1].X)
	}
	p.X.Min = 0
	if len(pts) == 0 {
		pts = plotter.XYs{{}}
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("burndown of %s: %w", name, err)
	}
	line.Color = burndownColor
	line.Width = vg.Points(2)
	p.Add(plotter.NewGrid(), line)
	c := vgsvg.NewWith(vgsvg.UseWH(16*vg.Centimeter, 9*vg.Centimeter))
	p.Draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("burndown of %s: %w", name, err)
	}
	return nil
}

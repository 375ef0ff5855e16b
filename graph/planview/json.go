package planview

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/crestwaves/crest/graph"
)

// Schema names the layout JSON writes; it changes only when a field changes meaning or goes
// away (new fields may appear without a change).
const Schema = "crest.plan/v1"

// Document is what JSON writes: the schema name and the plan's own fields, with every
// number of seconds rounded to a tenth — estimates are not more precise than that, and
// rounding keeps floating-point noise out of diffs.
type Document struct {
	Schema string `json:"schema"`
	*graph.Plan
}

// NewDocument wraps a rounded copy of p; p itself is left alone.
func NewDocument(p *graph.Plan) *Document {
	c := *p
	c.Minor = make([]graph.MinorWave, len(p.Minor))
	for i, w := range p.Minor {
		w.CostSeconds = round(w.CostSeconds)
		w.CriticalPathSeconds = round(w.CriticalPathSeconds)
		w.StartSeconds = round(w.StartSeconds)
		w.FinishSeconds = round(w.FinishSeconds)
		c.Minor[i] = w
	}
	c.Totals = roundEstimate(c.Totals)
	c.PerUpdate = roundEstimate(c.PerUpdate)
	c.Staging = roundEstimate(c.Staging)
	return &Document{Schema: Schema, Plan: &c}
}

func round(x float64) float64 { return math.Round(x*10) / 10 }

func roundEstimate(e graph.Estimate) graph.Estimate {
	e.CostSeconds = round(e.CostSeconds)
	e.CriticalPathSeconds = round(e.CriticalPathSeconds)
	e.WallSeconds = round(e.WallSeconds)
	return e
}

// JSON writes the plan as one indented JSON document (see Document and Schema).
func JSON(w io.Writer, p *graph.Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(NewDocument(p)); err != nil {
		return fmt.Errorf("write plan json: %w", err)
	}
	return nil
}

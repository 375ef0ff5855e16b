package charts

import (
	"time"

	"gonum.org/v1/plot"
)

// timeAxis maps times to x values: the time since start in a unit that suits the span
// shown, so that ticks read as "12 minutes" or "3 hours" rather than as clock times that
// say nothing about how long a wave has taken.
type timeAxis struct {
	start time.Time
	unit  time.Duration
	name  string // of the unit, plural
	// relative: times are offsets from start, not dates (a plan's).
	relative bool
}

// newTimeAxis picks the unit for the span from start to end: minutes up to two hours,
// hours up to three days, days beyond.
func newTimeAxis(start, end time.Time) timeAxis {
	switch span := end.Sub(start); {
	case span <= 2*time.Hour:
		return timeAxis{start: start, unit: time.Minute, name: "minutes"}
	case span <= 72*time.Hour:
		return timeAxis{start: start, unit: time.Hour, name: "hours"}
	default:
		return timeAxis{start: start, unit: 24 * time.Hour, name: "days"}
	}
}

// x is t on the axis.
func (a timeAxis) x(t time.Time) float64 { return float64(t.Sub(a.start)) / float64(a.unit) }

// label names the axis.
func (a timeAxis) label() string {
	if a.relative {
		return a.name + " from the start"
	}
	return a.name + " since " + a.start.UTC().Format("2006-01-02 15:04 MST")
}

// apply labels p's x axis and starts it at the start.
func (a timeAxis) apply(p *plot.Plot) {
	p.X.Label.Text = a.label()
	p.X.Min = 0
}

// latest is the latest of the times given, ignoring zero ones.
func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Day is 24 hours: the unit people think of grace periods in. Crest ignores daylight
// saving on purpose; a grace period is an amount of time, not a number of calendar days.
const Day = 24 * time.Hour

// Duration is a time.Duration that reads and writes as text a person would type into a
// JSON form: Go's notation ("168h", "90m", "1h30m") or whole days, alone or in front of
// it ("7d", "1d12h"). It writes whole days as days ("7d"), and hours below three days
// ("36h"), because that is how people say them.
type Duration time.Duration

const durationHelp = `want a duration such as "168h", "90m" or "7d" (whole days, optionally followed by Go notation, as in "1d12h")`

// ParseDuration reads a Duration in the notation Duration describes. A sign may lead;
// anything else ("7 days", "1.5d", "7d-3h") is rejected, quoted, with the notation wanted.
func ParseDuration(s string) (Duration, error) {
	bad := func() (Duration, error) { return 0, fmt.Errorf("invalid duration %q: %s", s, durationHelp) }
	rest := strings.TrimSpace(s)
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg, rest = rest[0] == '-', rest[1:]
	}
	if rest == "" {
		return bad()
	}
	var days int64
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		n, err := strconv.ParseUint(rest[:i], 10, 63)
		if err != nil || i == 0 {
			return bad()
		}
		if n > uint64(math.MaxInt64/int64(Day)) {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		days, rest = int64(n), rest[i+1:]
	}
	var d time.Duration
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return bad()
		}
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return bad()
		}
	}
	total := time.Duration(days) * Day
	if d > math.MaxInt64-total {
		return 0, fmt.Errorf("invalid duration %q: too long", s)
	}
	total += d
	if neg {
		total = -total
	}
	return Duration(total), nil
}

// String writes whole days as "Nd" and the rest in Go notation without zero units, so
// that 168h reads "7d", 36h "36h", 84h "3d12h" and 90m "1h30m".
func (d Duration) String() string {
	td := time.Duration(d)
	switch {
	case td == 0:
		return "0s"
	case td == math.MinInt64:
		return td.String()
	case td < 0:
		return "-" + Duration(-td).String()
	}
	var b strings.Builder
	if days := td / Day; days > 0 && days*Day != td && td < 3*Day {
		// Under three days, hours read better than "1d12h": "36h".
		return trimZeroUnits(td.String())
	} else if days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		td -= days * Day
	}
	if td > 0 {
		b.WriteString(trimZeroUnits(td.String()))
	}
	return b.String()
}

// trimZeroUnits drops the trailing zero minutes and seconds of time.Duration.String:
// "72h0m0s" → "72h", "1h30m0s" → "1h30m".
func trimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes String, so that JSON (and YAML decoders that honour
// encoding.TextUnmarshaler) carry durations as strings.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the notation of ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

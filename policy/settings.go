package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of Settings.
const (
	// DefaultGracePeriod gives maintainers a week: long enough to answer across a weekend
	// or a short absence, short enough that one stuck package does not hold a minor wave for
	// a release cycle. It is what Nixpkgs maintainers practise by hand today.
	DefaultGracePeriod = 7 * Day
	// DefaultMaxExtensions allows one extension: a maintainer who answers gets more time
	// once, but a conversation cannot keep a wave waiting forever.
	DefaultMaxExtensions = 1
	// DefaultExtension is three days: enough to review and merge a fix that is under way,
	// and it caps the longest default wait at ten days.
	DefaultExtension = 3 * Day

	// MinPeriod is the shortest grace period or extension accepted unless
	// allow_short_periods is set. Grace periods exist for people to respond; anything
	// shorter than an hour is a slip ("168m" for "168h") or a demo.
	MinPeriod = time.Hour
	// MaxPeriod is the longest grace period or extension accepted. A package that should
	// never be marked broken belongs under a protected root, not behind a year-long timer.
	MaxPeriod = 90 * Day
	// MaxExtensionsLimit caps max_extensions, so that a typo cannot turn the grace period
	// into an open-ended wait.
	MaxExtensionsLimit = 10
)

// Settings are the policy knobs of a collection (the policy section of crest.yaml), which
// a major wave's input may override field by field. Every field is optional: nil (absent
// from JSON, or null) means "not set here", so that an override of max_extensions 0 or of
// an empty protected_roots list says so and wins in Merge.
//
// Settings from Defaults and Effective have every field set but ProtectedRoots, which is
// nil when no layer names any. A person types them as JSON:
//
//	{"protected_roots": ["stdenv", "default-system"], "grace_period": "7d",
//	 "max_extensions": 1, "extension": "72h"}
type Settings struct {
	// ProtectedRoots are package keys whose whole build closure is protected: never marked
	// broken, never resolved automatically. An override replaces the list; it does not add
	// to it, so that a wave can also narrow it.
	ProtectedRoots []string `json:"protected_roots,omitzero"`
	// GracePeriod is how long maintainers of an unprotected root cause have, from their
	// notification, before the package is marked broken.
	GracePeriod *Duration `json:"grace_period,omitempty"`
	// MaxExtensions is how many times a maintainer's comment or a retry may extend the
	// grace period; 0 turns extensions off.
	MaxExtensions *int `json:"max_extensions,omitempty"`
	// Extension is how much each extension adds to the deadline.
	Extension *Duration `json:"extension,omitempty"`
	// AllowShortPeriods lets the grace period and extension go below MinPeriod, for demos
	// and tests that must see a package marked broken within minutes. It is a field rather
	// than a hidden switch so that the audit log shows it was set.
	AllowShortPeriods *bool `json:"allow_short_periods,omitempty"`
}

// Defaults returns the settings used where nothing else is set: no protected roots (each
// collection names its own), DefaultGracePeriod, DefaultMaxExtensions of DefaultExtension
// each, short periods not allowed.
func Defaults() Settings {
	return Settings{
		GracePeriod:       ptr(Duration(DefaultGracePeriod)),
		MaxExtensions:     ptr(DefaultMaxExtensions),
		Extension:         ptr(Duration(DefaultExtension)),
		AllowShortPeriods: ptr(false),
	}
}

func ptr[T any](v T) *T { return &v }

// clonePtr copies the value behind p, so that merged settings share nothing with their
// inputs.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr(*p)
}

// Merge returns base with every field that override sets replaced by override's value.
// The result shares no memory with either argument.
func Merge(base, override Settings) Settings {
	out := Settings{
		ProtectedRoots:    slices.Clone(base.ProtectedRoots),
		GracePeriod:       clonePtr(base.GracePeriod),
		MaxExtensions:     clonePtr(base.MaxExtensions),
		Extension:         clonePtr(base.Extension),
		AllowShortPeriods: clonePtr(base.AllowShortPeriods),
	}
	if override.ProtectedRoots != nil {
		out.ProtectedRoots = append([]string{}, override.ProtectedRoots...)
	}
	if override.GracePeriod != nil {
		out.GracePeriod = clonePtr(override.GracePeriod)
	}
	if override.MaxExtensions != nil {
		out.MaxExtensions = clonePtr(override.MaxExtensions)
	}
	if override.Extension != nil {
		out.Extension = clonePtr(override.Extension)
	}
	if override.AllowShortPeriods != nil {
		out.AllowShortPeriods = clonePtr(override.AllowShortPeriods)
	}
	return out
}

// Effective layers settings over Defaults, later layers winning (typically the
// collection's, then the major wave's override), and validates the result: the settings a
// wave runs with, every field set.
func Effective(layers ...Settings) (Settings, error) {
	s := Defaults()
	for _, l := range layers {
		s = Merge(s, l)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, fmt.Errorf("policy settings: %w", err)
	}
	return s, nil
}

// FieldError names a settings field, the value found there and the rule it broke.
type FieldError struct {
	Field string // JSON name, with an index for list elements: "protected_roots[1]"
	Value string // as the person would recognize it; empty when there is none
	Rule  string
}

// Error reads `grace_period "10m": must be at least 1h unless allow_short_periods is set`.
func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Rule
	}
	return e.Field + " " + e.Value + ": " + e.Rule
}

// Validate checks the settings, taking unset fields from Defaults; validate the merged
// settings a wave will run with (Effective does), since a field valid on its own may not
// be valid with another layer's (an extension of "10m" needs allow_short_periods). All
// problems are reported together, each as a *FieldError.
func (s Settings) Validate() error {
	e := Merge(Defaults(), s)
	var errs []error
	add := func(field, value, rule string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Rule: rule})
	}

	seen := make(map[string]int, len(e.ProtectedRoots))
	for i, r := range e.ProtectedRoots {
		field := fmt.Sprintf("protected_roots[%d]", i)
		switch first, dup := seen[r]; {
		case strings.TrimSpace(r) == "":
			add(field, strconv.Quote(r), "must name a package")
		case dup:
			add(field, strconv.Quote(r), fmt.Sprintf("listed twice (also protected_roots[%d])", first))
		default:
			seen[r] = i
		}
	}

	short := *e.AllowShortPeriods
	period := func(field string, d Duration) {
		v := strconv.Quote(d.String())
		switch td := time.Duration(d); {
		case td < 0:
			add(field, v, "must not be negative")
		case td == 0:
			add(field, v, "must be positive")
		case td < MinPeriod && !short:
			add(field, v, fmt.Sprintf("must be at least %s unless allow_short_periods is set", Duration(MinPeriod)))
		case td > MaxPeriod:
			add(field, v, fmt.Sprintf("must be at most %s", Duration(MaxPeriod)))
		}
	}
	period("grace_period", *e.GracePeriod)

	n := *e.MaxExtensions
	switch {
	case n < 0:
		add("max_extensions", strconv.Itoa(n), "must not be negative")
	case n > MaxExtensionsLimit:
		add("max_extensions", strconv.Itoa(n), fmt.Sprintf("must be at most %d", MaxExtensionsLimit))
	}
	if n > 0 {
		period("extension", *e.Extension)
	} else if *e.Extension < 0 {
		// Unused without extensions, but a negative value is still a mistake worth naming.
		add("extension", strconv.Quote(e.Extension.String()), "must not be negative")
	}
	return errors.Join(errs...)
}

// settingsFields decodes each field DecodeSettings knows, in JSON order of the struct.
var settingsFields = []struct {
	name   string
	decode func(s *Settings, raw json.RawMessage) *FieldError
}{
	{"protected_roots", func(s *Settings, raw json.RawMessage) *FieldError {
		var v []string
		if err := json.Unmarshal(raw, &v); err != nil {
			return &FieldError{Field: "protected_roots", Value: clip(raw), Rule: "want a list of package names"}
		}
		if v == nil {
			v = []string{}
		}
		s.ProtectedRoots = v
		return nil
	}},
	{"grace_period", func(s *Settings, raw json.RawMessage) *FieldError {
		d, err := decodeDuration("grace_period", raw)
		s.GracePeriod = d
		return err
	}},
	{"max_extensions", func(s *Settings, raw json.RawMessage) *FieldError {
		var v int
		if err := json.Unmarshal(raw, &v); err != nil {
			return &FieldError{Field: "max_extensions", Value: clip(raw), Rule: "want a whole number"}
		}
		s.MaxExtensions = &v
		return nil
	}},
	{"extension", func(s *Settings, raw json.RawMessage) *FieldError {
		d, err := decodeDuration("extension", raw)
		s.Extension = d
		return err
	}},
	{"allow_short_periods", func(s *Settings, raw json.RawMessage) *FieldError {
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return &FieldError{Field: "allow_short_periods", Value: clip(raw), Rule: "want true or false"}
		}
		s.AllowShortPeriods = &v
		return nil
	}},
}

func decodeDuration(field string, raw json.RawMessage) (*Duration, *FieldError) {
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, &FieldError{Field: field, Value: clip(raw), Rule: durationHelp}
	}
	d, err := ParseDuration(str)
	if err != nil {
		return nil, &FieldError{Field: field, Value: strconv.Quote(str), Rule: durationHelp}
	}
	return &d, nil
}

// clip shortens a raw JSON value for an error message.
func clip(raw json.RawMessage) string {
	const max = 40
	s := string(bytes.TrimSpace(raw))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// DecodeSettings reads settings a person typed (a wave input's override, the policy
// section of crest.yaml as JSON) strictly: an unknown field is an error naming it, with
// the closest known field if there is one ("grace_perod" → grace_period), and a value of
// the wrong kind is an error naming its field. A field that is absent or null stays unset.
// All problems are reported together, each as a *FieldError.
//
// It checks form, not rules: Validate (or Effective) checks the merged settings, because
// whether a value is allowed can depend on another layer.
func DecodeSettings(data []byte) (Settings, error) {
	var s Settings
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fields); err != nil {
		return Settings{}, fmt.Errorf("settings: want a JSON object: %w", err)
	}
	if dec.More() {
		return Settings{}, errors.New("settings: unexpected data after the JSON object")
	}
	known := make([]string, len(settingsFields))
	for i, f := range settingsFields {
		known[i] = f.name
	}
	var errs []error
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			errs = append(errs, &FieldError{Field: name, Rule: "unknown field" + didYouMean(closest(name, known, 1)) +
				"; known fields: " + strings.Join(known, ", ")})
		}
	}
	for _, f := range settingsFields {
		raw, ok := fields[f.name]
		if !ok || string(bytes.TrimSpace(raw)) == "null" {
			continue
		}
		if err := f.decode(&s, raw); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("settings: %w", errors.Join(errs...))
	}
	return s, nil
}

package policy_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

func dur(d time.Duration) *policy.Duration { v := policy.Duration(d); return &v }
func intp(n int) *int                      { return &n }
func boolp(b bool) *bool                   { return &b }

func TestDefaults(t *testing.T) {
	t.Parallel()
	d := policy.Defaults()
	require.Equal(t, 7*policy.Day, time.Duration(*d.GracePeriod))
	require.Equal(t, 1, *d.MaxExtensions)
	require.Equal(t, 3*policy.Day, time.Duration(*d.Extension))
	require.False(t, *d.AllowShortPeriods)
	require.Nil(t, d.ProtectedRoots)
	require.NoError(t, d.Validate())
}

func TestDecodeSettings(t *testing.T) {
	t.Parallel()
	s, err := policy.DecodeSettings([]byte(`{"protected_roots": ["stdenv","default-system"], "grace_period": "168h", "max_extensions": 1, "extension": "72h"}`))
	require.NoError(t, err)
	require.Equal(t, []string{"stdenv", "default-system"}, s.ProtectedRoots)
	require.Equal(t, 7*policy.Day, time.Duration(*s.GracePeriod))
	require.Equal(t, 1, *s.MaxExtensions)
	require.Equal(t, 3*policy.Day, time.Duration(*s.Extension))
	require.Nil(t, s.AllowShortPeriods)

	// Absent and null fields stay unset; zero and empty are set.
	s, err = policy.DecodeSettings([]byte(`{"max_extensions": 0, "grace_period": null, "protected_roots": []}`))
	require.NoError(t, err)
	require.NotNil(t, s.MaxExtensions)
	require.Equal(t, 0, *s.MaxExtensions)
	require.Nil(t, s.GracePeriod)
	require.NotNil(t, s.ProtectedRoots)
	require.Empty(t, s.ProtectedRoots)

	s, err = policy.DecodeSettings([]byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, policy.Settings{}, s)
}

func TestDecodeSettingsErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in    string
		wants []string
	}{
		{`{"grace_perod": "7d"}`, []string{`grace_perod: unknown field (did you mean grace_period?)`}},
		{`{"grace": "7d", "retries": 3}`, []string{"grace: unknown field (did you mean grace_period?)", "retries: unknown field; known fields: protected_roots, grace_period"}},
		{`{"grace_period": "a week"}`, []string{`grace_period "a week": want a duration`}},
		{`{"grace_period": 604800}`, []string{`grace_period 604800: want a duration`}},
		{`{"extension": "1.5d"}`, []string{`extension "1.5d": want a duration`}},
		{`{"max_extensions": 1.5}`, []string{`max_extensions 1.5: want a whole number`}},
		{`{"max_extensions": "1"}`, []string{`max_extensions "1": want a whole number`}},
		{`{"protected_roots": "stdenv"}`, []string{`protected_roots "stdenv": want a list of package names`}},
		{`{"allow_short_periods": "yes"}`, []string{`allow_short_periods "yes": want true or false`}},
		// Every problem at once, so a person fixes the form in one go.
		{`{"grace_perod": "7d", "max_extensions": -1.5}`, []string{"grace_perod: unknown field", "max_extensions -1.5"}},
		{`[1, 2]`, []string{"want a JSON object"}},
		{`{"grace_period": "7d"} {}`, []string{"unexpected data"}},
	} {
		_, err := policy.DecodeSettings([]byte(c.in))
		require.Error(t, err, c.in)
		for _, w := range c.wants {
			require.ErrorContains(t, err, w, c.in)
		}
	}
	_, err := policy.DecodeSettings([]byte(`{"grace_perod": "7d"}`))
	var fe *policy.FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "grace_perod", fe.Field)
}

func TestMerge(t *testing.T) {
	t.Parallel()
	collection := policy.Settings{ProtectedRoots: []string{"stdenv"}, GracePeriod: dur(14 * policy.Day)}
	// An override of 0 extensions is expressible and wins; unset fields keep the base.
	wave := policy.Settings{MaxExtensions: intp(0)}
	m := policy.Merge(policy.Merge(policy.Defaults(), collection), wave)
	require.Equal(t, []string{"stdenv"}, m.ProtectedRoots)
	require.Equal(t, 14*policy.Day, time.Duration(*m.GracePeriod))
	require.Equal(t, 0, *m.MaxExtensions)
	require.Equal(t, 3*policy.Day, time.Duration(*m.Extension))

	// An empty list replaces the roots; a nil one leaves them.
	require.Empty(t, policy.Merge(m, policy.Settings{ProtectedRoots: []string{}}).ProtectedRoots)
	require.NotNil(t, policy.Merge(m, policy.Settings{ProtectedRoots: []string{}}).ProtectedRoots)
	require.Equal(t, []string{"stdenv"}, policy.Merge(m, policy.Settings{}).ProtectedRoots)

	// The result shares nothing with its inputs.
	*m.GracePeriod = 0
	m.ProtectedRoots[0] = "changed"
	require.Equal(t, 14*policy.Day, time.Duration(*collection.GracePeriod))
	require.Equal(t, "stdenv", collection.ProtectedRoots[0])
	require.Equal(t, 0, *wave.MaxExtensions)
	*wave.MaxExtensions = 5
	require.Equal(t, 0, *m.MaxExtensions)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		s     policy.Settings
		wants []string // empty: valid
	}{
		{"defaults", policy.Settings{}, nil},
		{"negative grace", policy.Settings{GracePeriod: dur(-time.Hour)}, []string{`grace_period "-1h": must not be negative`}},
		{"zero grace", policy.Settings{GracePeriod: dur(0)}, []string{`grace_period "0s": must be positive`}},
		{"short grace", policy.Settings{GracePeriod: dur(59 * time.Minute)}, []string{`grace_period "59m": must be at least 1h unless allow_short_periods is set`}},
		{"one hour is fine", policy.Settings{GracePeriod: dur(time.Hour)}, nil},
		{"short allowed", policy.Settings{GracePeriod: dur(2 * time.Second), Extension: dur(time.Second), AllowShortPeriods: boolp(true)}, nil},
		{"short allowed, zero still not", policy.Settings{GracePeriod: dur(0), AllowShortPeriods: boolp(true)}, []string{"grace_period", "must be positive"}},
		{"long grace", policy.Settings{GracePeriod: dur(91 * policy.Day)}, []string{`grace_period "91d": must be at most 90d`}},
		{"negative extensions", policy.Settings{MaxExtensions: intp(-1)}, []string{"max_extensions -1: must not be negative"}},
		{"too many extensions", policy.Settings{MaxExtensions: intp(11)}, []string{"max_extensions 11: must be at most 10"}},
		{"zero extension", policy.Settings{Extension: dur(0)}, []string{`extension "0s": must be positive`}},
		{"zero extension unused", policy.Settings{Extension: dur(0), MaxExtensions: intp(0)}, nil},
		{"negative extension unused", policy.Settings{Extension: dur(-time.Hour), MaxExtensions: intp(0)}, []string{`extension "-1h": must not be negative`}},
		{"short extension", policy.Settings{Extension: dur(10 * time.Minute)}, []string{`extension "10m": must be at least 1h`}},
		{"empty root", policy.Settings{ProtectedRoots: []string{"stdenv", " "}}, []string{`protected_roots[1] " ": must name a package`}},
		{"duplicate root", policy.Settings{ProtectedRoots: []string{"stdenv", "gcc", "stdenv"}}, []string{`protected_roots[2] "stdenv": listed twice (also protected_roots[0])`}},
		{"all at once", policy.Settings{GracePeriod: dur(-1), MaxExtensions: intp(99)}, []string{"grace_period", "max_extensions"}},
	} {
		err := c.s.Validate()
		if len(c.wants) == 0 {
			require.NoError(t, err, c.name)
			continue
		}
		require.Error(t, err, c.name)
		for _, w := range c.wants {
			require.ErrorContains(t, err, w, c.name)
		}
		var fe *policy.FieldError
		require.True(t, errors.As(err, &fe), c.name)
	}
}

func TestEffective(t *testing.T) {
	t.Parallel()
	collection, err := policy.DecodeSettings([]byte(`{"protected_roots": ["stdenv"], "extension": "10m", "allow_short_periods": true}`))
	require.NoError(t, err)
	wave, err := policy.DecodeSettings([]byte(`{"grace_period": "5m"}`))
	require.NoError(t, err)
	e, err := policy.Effective(collection, wave)
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, time.Duration(*e.GracePeriod))
	require.Equal(t, 10*time.Minute, time.Duration(*e.Extension))
	require.Equal(t, 1, *e.MaxExtensions)

	// The same override is invalid over a collection that does not allow short periods:
	// validity is a property of the merged settings.
	_, err = policy.Effective(policy.Settings{}, wave)
	require.ErrorContains(t, err, `policy settings: grace_period "5m": must be at least 1h`)
}

func TestSettingsJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []policy.Settings{
		policy.Defaults(),
		{},
		{MaxExtensions: intp(0), ProtectedRoots: []string{}},
		{ProtectedRoots: []string{"stdenv"}, GracePeriod: dur(36 * time.Hour), Extension: dur(90 * time.Minute)},
	} {
		b, err := json.Marshal(s)
		require.NoError(t, err)
		back, err := policy.DecodeSettings(b)
		require.NoError(t, err, string(b))
		require.Equal(t, s, back, string(b))
	}
	b, err := json.Marshal(policy.Defaults())
	require.NoError(t, err)
	require.JSONEq(t, `{"grace_period": "7d", "max_extensions": 1, "extension": "3d", "allow_short_periods": false}`, string(b))
}

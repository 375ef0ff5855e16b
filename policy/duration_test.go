package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want time.Duration
	}{
		{"168h", 168 * time.Hour},
		{"7d", 7 * policy.Day},
		{"1d12h", 36 * time.Hour},
		{"1d12h30m", 36*time.Hour + 30*time.Minute},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"0d", 0},
		{"-7d", -7 * policy.Day},
		{" 72h ", 72 * time.Hour},
		{"1.5h", 90 * time.Minute},
	}
	for _, c := range good {
		d, err := policy.ParseDuration(c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, time.Duration(d), c.in)
	}
	for _, in := range []string{"", "-", "d", "7 days", "7days", "1.5d", "7d-3h", "7d+3h", "h", "5", "seven days", "1e3d", "9999999d"} {
		_, err := policy.ParseDuration(in)
		require.Error(t, err, in)
		require.Contains(t, err.Error(), "invalid duration")
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{168 * time.Hour, "7d"},
		{72 * time.Hour, "3d"},
		{36 * time.Hour, "36h"},
		{84 * time.Hour, "3d12h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour, "1h"},
		{30 * time.Second, "30s"},
		{1500 * time.Millisecond, "1.5s"},
		{-7 * policy.Day, "-7d"},
	} {
		require.Equal(t, c.want, policy.Duration(c.d).String(), c.d.String())
		// Whatever String writes, ParseDuration reads back.
		back, err := policy.ParseDuration(c.want)
		require.NoError(t, err)
		require.Equal(t, c.d, time.Duration(back))
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	var v struct {
		D policy.Duration `json:"d"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"d": "7d"}`), &v))
	require.Equal(t, 7*policy.Day, time.Duration(v.D))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.JSONEq(t, `{"d": "7d"}`, string(b))

	err = json.Unmarshal([]byte(`{"d": "a week"}`), &v)
	require.ErrorContains(t, err, `invalid duration "a week"`)
	// A bare number is ambiguous (nanoseconds? seconds?) and refused.
	require.Error(t, json.Unmarshal([]byte(`{"d": 3600}`), &v))
}

package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

func TestReleaseRoots(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	at := func(daysAgo int) time.Time { return now.Add(-time.Duration(daysAgo) * day) }
	roots := []policy.Root{
		{Collection: "demo", Tag: "wave-1-1", Finished: true, CreatedAt: at(30)},
		{Collection: "demo", Tag: "wave-1-1-security-1", CreatedAt: at(20)},
		{Collection: "demo", Tag: "wave-1-2", Finished: true, CreatedAt: at(10)},
		{Collection: "demo", Tag: "wave-2-1pre", CreatedAt: at(2)},
		{Collection: "demo", Tag: "wave-2-1", Finished: true, CreatedAt: at(1)},
		{Collection: "demo", Tag: "wave-2-2pre", CreatedAt: at(0)},
		{Collection: "other", Tag: "wave-1-1", Finished: true, CreatedAt: at(40)},
		{Collection: "other", Tag: "wave-1-2pre", CreatedAt: at(39)},
	}
	released := func(r policy.Retention) []string {
		t.Helper()
		ds, err := policy.ReleaseRoots(roots, r, now)
		require.NoError(t, err)
		require.Len(t, ds, len(roots), "a decision per root")
		var out []string
		for _, d := range ds {
			require.NotEmpty(t, d.Reason)
			if d.Release {
				out = append(out, d.Root.Collection+"/"+d.Root.Tag)
			}
		}
		return out
	}
	for name, tc := range map[string]struct {
		r    policy.Retention
		want []string
	}{
		// wave-2-1pre went before wave-2-1, the finished tag of the same minor wave.
		"keep the newest finished tag": {policy.Retention{KeepTags: 1},
			[]string{"demo/wave-2-1pre", "demo/wave-1-2", "demo/wave-1-1-security-1", "demo/wave-1-1"}},
		"keep two":                 {policy.Retention{KeepTags: 2}, []string{"demo/wave-1-1-security-1", "demo/wave-1-1"}},
		"keep more than there are": {policy.Retention{KeepTags: 5}, nil},
		"older than a fortnight": {policy.Retention{KeepTags: 1, OlderThan: 14 * day},
			[]string{"demo/wave-1-1-security-1", "demo/wave-1-1"}},
		"older than a year": {policy.Retention{KeepTags: 1, OlderThan: 365 * day}, nil},
	} {
		require.Equal(t, tc.want, released(tc.r), name)
	}

	// The newest finished tag of a collection is never released, however old.
	for _, r := range []policy.Retention{{KeepTags: 1}, {KeepTags: 1, OlderThan: time.Nanosecond}} {
		require.NotContains(t, released(r), "demo/wave-2-1")
		require.NotContains(t, released(r), "other/wave-1-1")
		require.NotContains(t, released(r), "other/wave-1-2pre", "newer than the newest finished tag")
	}
	_, err := policy.ReleaseRoots(roots, policy.Retention{}, now)
	require.ErrorContains(t, err, "keep at least the newest finished tag")
	_, err = policy.ReleaseRoots(roots, policy.Retention{KeepTags: 1, OlderThan: -day}, now)
	require.Error(t, err)
}

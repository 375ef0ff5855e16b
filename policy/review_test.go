package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

// TestReviewDecidesEveryFailureAtOnce: one call decides each root cause as Grace would,
// blocks what Grace cannot judge (with the error as the reason) and wakes at the earliest
// running deadline.
func TestReviewDecidesEveryFailureAtOnce(t *testing.T) {
	t.Parallel()
	early := failure()
	early.Package = "early"
	late := failure()
	late.Package, late.Notified = "late", notified.Add(48*time.Hour)
	over := failure()
	over.Package, over.Notified = "over", notified.Add(-8*policy.Day)
	unnotified := failure()
	unnotified.Package, unnotified.Notified = "unnotified", time.Time{}
	bad := failure()
	bad.Package, bad.Status = "bad", policy.StatusPassed
	protected := failure()
	protected.Package, protected.Protected = "glibc", policy.Chain{"glibc"}
	in := []policy.Failure{late, over, early, unnotified, bad, protected}

	now := notified.Add(time.Hour)
	got, wake := policy.Review(in, policy.Settings{}, now)
	require.Len(t, got, len(in))
	for i, f := range in {
		require.Equal(t, f.Package, got[i].Package, "in input order")
		want, err := policy.Grace(f, policy.Settings{}, now)
		if err != nil {
			require.Equal(t, policy.ActionBlock, got[i].Action)
			require.Equal(t, err.Error(), got[i].Reason)
			continue
		}
		require.True(t, want.Equal(got[i]), "%s: %v, Grace says %v", f.Package, got[i], want)
	}
	require.Equal(t, policy.ActionMarkBroken, got[1].Action)
	require.Equal(t, policy.ActionBlock, got[5].Action)
	require.True(t, wake.Equal(deadline), "the earliest running deadline: early's, not late's; got %s", wake)

	_, wake = policy.Review([]policy.Failure{unnotified, protected, over}, policy.Settings{}, now)
	require.True(t, wake.IsZero(), "nothing waits for a deadline")
	got, wake = policy.Review(nil, policy.Settings{}, now)
	require.Empty(t, got)
	require.True(t, wake.IsZero())
}

func TestRetryTakesTheDependentsItBlocks(t *testing.T) {
	t.Parallel()
	states := []policy.State{
		{Package: "libhttp", Status: failed},
		{Package: "tetrix", Status: failed},
		{Package: "fetch", Status: policy.StatusDependencyFailed, BlockedBy: []string{"libhttp"}},
		{Package: "webd", Status: policy.StatusDependencyFailed, BlockedBy: []string{"tetrix", "libhttp"}},
		{Package: "feedreader", Status: policy.StatusDependencyFailed, BlockedBy: []string{"tetrix"}},
		{Package: "hello", Status: policy.StatusPassed},
	}
	require.Equal(t, []string{"fetch", "webd"}, policy.RetryTakes(states, []string{"libhttp"}))
	require.Equal(t, []string{"feedreader", "fetch", "webd"}, policy.RetryTakes(states, []string{"libhttp", "tetrix"}))
	require.Empty(t, policy.RetryTakes(states, []string{"hello"}))
	require.Empty(t, policy.RetryTakes(states, nil))
}

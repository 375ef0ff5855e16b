package policy_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

// TestAfterBisection: a culprit is ejected; only pre-existing failures merge (nothing is
// worse than on the head); a flaky failure, or an unfinished search, re-queues.
func TestAfterBisection(t *testing.T) {
	t.Parallel()
	run := func(changes, failed []string, outcomes map[policy.ProbeKind]map[int][]string) policy.BisectVerdict {
		b, err := policy.NewBisection(changes, failed, 4)
		require.NoError(t, err)
		for !b.Done {
			for _, p := range policy.NextProbes(b) {
				b, err = policy.Record(b, p, outcomes[p.Kind][p.Prefix])
				require.NoError(t, err)
			}
		}
		return policy.Culprit(b)
	}
	for _, c := range []struct {
		name     string
		outcomes map[policy.ProbeKind]map[int][]string
		want     policy.BatchAction
	}{
		{"culprit", map[policy.ProbeKind]map[int][]string{policy.ProbeRebuild: {3: {"p"}}, policy.ProbePrefix: {2: {"p"}}}, policy.BatchEject},
		{"pre-existing", map[policy.ProbeKind]map[int][]string{policy.ProbeBase: {0: {"p"}}, policy.ProbeRebuild: {3: {"p"}},
			policy.ProbePrefix: {1: {"p"}, 2: {"p"}}}, policy.BatchMerge},
		{"flaky", map[policy.ProbeKind]map[int][]string{}, policy.BatchRequeue},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := policy.AfterBisection(run([]string{"a", "b", "c"}, []string{"p"}, c.outcomes))
			require.Equal(t, c.want, got.Action, got.Reason)
			require.NotEmpty(t, got.Reason)
		})
	}
	require.Equal(t, policy.BatchRequeue, policy.AfterBisection(policy.BisectVerdict{Culprit: "a"}).Action, "not done")
}

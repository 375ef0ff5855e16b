package activities

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/wire"
)

// TestPlanCacheKeepsTheNewest: the graft plans of a covered tag are kept by what they are
// a function of (another patched output is another plan), the oldest dropped beyond max,
// and a forgotten one is computed again.
func TestPlanCacheKeepsTheNewest(t *testing.T) {
	c := &planCache{max: 2}
	in := wire.GraftsInput{Collection: "demo", Package: "libcrypto", Tag: wire.CoveredTag{Commit: "t", System: "x86_64-linux"},
		Prepared: wire.PreparedPatchTag{Commit: "m"}, PatchedOutputs: []string{"/nix/store/a-libcrypto-2.5.1"}}
	other := in
	other.PatchedOutputs = []string{"/nix/store/b-libcrypto-2.5.1"}
	require.NotEqual(t, planKey(in), planKey(other))
	c.put(planKey(in), graftPlan{drv: "a"})
	c.put(planKey(other), graftPlan{drv: "b"})
	p, ok := c.get(planKey(in))
	require.True(t, ok)
	require.Equal(t, "a", p.drv)
	c.put("third", graftPlan{drv: "c"})
	_, ok = c.get(planKey(in))
	require.False(t, ok, "the oldest is dropped")
	c.forget(planKey(other))
	_, ok = c.get(planKey(other))
	require.False(t, ok)
	p, ok = c.get("third")
	require.True(t, ok)
	require.Equal(t, "c", p.drv)
}

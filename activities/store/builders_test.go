package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/deploy/testenv"
)

// TestBuildSlotsAddLiveBuildersOfOneSystem: a system's capacity is the slots of the
// builders that announced themselves recently, per system; a refresh replaces, a withdrawn
// or silent builder no longer counts.
func TestBuildSlotsAddLiveBuildersOfOneSystem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const x86, arm = "x86_64-linux", "aarch64-linux"
	slots := func(system string, fresh time.Duration) int {
		t.Helper()
		n, err := st.BuildSlots(ctx, system, fresh)
		require.NoError(t, err)
		return n
	}
	require.Zero(t, slots(x86, time.Minute), "nobody announced")
	require.NoError(t, st.AnnounceBuilder(ctx, "a/x86", x86, 4))
	require.NoError(t, st.AnnounceBuilder(ctx, "b/x86", x86, 8))
	require.NoError(t, st.AnnounceBuilder(ctx, "c/arm", arm, 2))
	require.Equal(t, 12, slots(x86, time.Minute))
	require.Equal(t, 2, slots(arm, time.Minute))
	require.NoError(t, st.AnnounceBuilder(ctx, "a/x86", x86, 16), "a restarted worker with more slots")
	require.Equal(t, 24, slots(x86, time.Minute))
	require.NoError(t, st.WithdrawBuilder(ctx, "b/x86"))
	require.Equal(t, 16, slots(x86, time.Minute))
	time.Sleep(20 * time.Millisecond)
	require.Zero(t, slots(x86, 10*time.Millisecond), "silent for longer than fresh: gone")
	require.Error(t, st.AnnounceBuilder(ctx, "d/x86", x86, 0), "no slots is no builder")
}

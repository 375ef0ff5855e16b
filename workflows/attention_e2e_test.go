package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestNeedsAttentionRecoversWithAnotherRef: a minor wave whose update ref does not exist
// does not fail the major wave: it waits in needs-attention, saying why and what to do (in
// the Status query and in Postgres), until AddUpdate gives the package another ref; then it
// builds, waits for the failure that ref brings, takes the fix, and tags. The tag already
// pushed by the first minor wave is untouched.
func TestNeedsAttentionRecoversWithAnotherRef(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	id := s.queue + "/wave-1"
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Limits: s.limits,
			Updates: []wire.Update{{Package: "libnet", Ref: demo.UpdateLibnet2}}})
	require.NoError(t, err)
	s.waitFor(id, "wave-1 started", func(st workflows.MajorStatus) bool { return len(st.Minor) == 1 })
	_, err = s.update(id, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "libcrypto", Ref: "no/such/ref", By: "erin"})
	require.NoError(t, err, "AddUpdate does not look refs up: the minor wave finds out")

	s.waitRecorded(t, 1, 1, "libhttp", "failed")
	_, err = s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: demo.FixLibhttpLibnet2, By: "dave"})
	require.NoError(t, err)

	st := s.waitFor(id, "wave-1-2 needs attention", func(st workflows.MajorStatus) bool {
		return len(st.Minor) == 2 && st.Minor[1].Phase == workflows.PhaseNeedsAttention
	})
	require.Equal(t, workflows.PhaseNeedsAttention, st.Phase, "the major wave says so too")
	require.Equal(t, "wave-1-1", st.Minor[0].Tag)
	m := st.Minor[1]
	require.Contains(t, m.Attention, `ref "no/such/ref" not found`)
	require.Contains(t, m.Reason, "next: crest wave retry wave-1-2")
	require.Contains(t, st.Reason, "wave-1-2 needs-attention")

	// Postgres says the same for crest wave list / status.
	w := mustWave(t, s.st, 1)
	require.Equal(t, workflows.PhaseNeedsAttention, w.State)
	require.Contains(t, w.Reason, "no/such/ref")
	m2, err := s.st.MinorWaveByNumber(ctx, w.ID, 2)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseNeedsAttention, m2.State)
	require.Contains(t, m2.Reason, "crest wave add wave-1 PACKAGE=REF")

	// Another ref for the same package: the minor wave tries again.
	out, err := s.update(id, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "libcrypto", Ref: demo.UpdateLibcrypto3, By: "erin"})
	require.NoError(t, err)
	require.Contains(t, out, "wave-1-2: libcrypto now updates to "+demo.UpdateLibcrypto3)

	s.waitRecorded(t, 1, 2, "pkgtool", "failed")
	_, err = s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3, By: "dave"})
	require.NoError(t, err)

	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	require.NoError(t, run.Get(wctx, &res))
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
	require.Positive(t, res.Minor[1].Summary.Counts.Total, "wave-1-2 built libcrypto's closure")
	tags, err := s.st.Tags(ctx, "demo")
	require.NoError(t, err)
	require.Len(t, tags, 2)
	require.Equal(t, res.Minor[0].Commit, tagCommit(tags, "wave-1-1"), "the first tag is untouched")
	w = mustWave(t, s.st, 1)
	require.Equal(t, workflows.PhaseDone, w.State)
	require.False(t, strings.Contains(w.Reason, "needs-attention"))
}

func tagCommit(tags []store.Tag, name string) string {
	for _, t := range tags {
		if t.Name == name {
			return t.Commit
		}
	}
	return ""
}

package workflows_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestUnfinishedMinorWaveIsTaggedAndPinnable: a minor wave whose builds are done while
// failures wait (libcore 2: tetrix fails, calc's test fails) pushes wave-N-Mpre, annotated
// as unfinished; a maintainer who accepts that pins a package whose closure is green there
// (crest pin --unfinished) and is told how much is unverified, while the default pin still
// waits for a finished tag. Once settled, the wave's own tag is the answer to both.
func TestUnfinishedMinorWaveIsTaggedAndPinnable(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	id := "demo/wave-unfinished"
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Limits: s.limits,
			Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2}}})
	require.NoError(t, err)
	st := s.waitFor(id, "wave-1-1pre", func(st workflows.MajorStatus) bool {
		return len(st.Minor) == 1 && st.Minor[0].Unfinished != "" && st.Minor[0].Phase == workflows.PhaseWaiting
	})
	require.Equal(t, "wave-1-1pre", st.Minor[0].Unfinished)

	out, err := exec.Command("git", "-C", s.demo.Remote, "tag", "-l", "--format=%(objecttype) %(contents)", "wave-1-1pre").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Regexp(t, `^tag wave-1-1pre: UNFINISHED wave-1-1`, string(out))
	require.Contains(t, string(out), "- tetrix: failed, not settled")
	require.Contains(t, string(out), `"schema": "crest.tag.unfinished/v1"`)
	tags, err := s.st.Tags(ctx, "demo")
	require.NoError(t, err)
	require.Empty(t, tags, "an unfinished tag is not a wave's tag")

	_, err = s.st.Pin(ctx, "demo", "hello", store.PinOptions{})
	require.ErrorIs(t, err, store.ErrNoGreenTag, "by default only finished waves qualify")
	pin, err := s.st.Pin(ctx, "demo", "hello", store.PinOptions{Unfinished: true})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1pre", pin.Tag)
	require.True(t, pin.Unfinished)
	require.Equal(t, st.Minor[0].Commit, pin.Commit)
	require.Positive(t, pin.Unverified, "tetrix and calc (and what tetrix blocks) are not verified")
	_, err = s.st.Pin(ctx, "demo", "tetrix", store.PinOptions{Unfinished: true})
	require.ErrorIs(t, err, store.ErrNoGreenTag, "a failed package is green nowhere")

	for _, pkg := range []string{"tetrix", "calc"} {
		_, err := s.update(id, workflows.UpdateResolve, workflows.ResolveRequest{Package: pkg, Resolution: "wont-fix",
			Reason: "not in this release", By: "alice"})
		require.NoError(t, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	require.NoError(t, run.Get(wctx, &res))
	require.Equal(t, []string{"wave-1-1"}, res.Tags)
	recordHistories(t, s.c, id)
	for _, opts := range []store.PinOptions{{}, {Unfinished: true}} {
		pin, err := s.st.Pin(ctx, "demo", "hello", opts)
		require.NoError(t, err)
		require.Equal(t, "wave-1-1", pin.Tag, "the finished tag is newer")
		require.False(t, pin.Unfinished)
	}
}

package activities

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
)

// NixBuilder builds with Nix. With a binary cache configured (nix.Config.Cache), Nix
// substitutes from it whatever another builder built, and a green build's outputs are pushed
// to it, so that builders on other machines and the tag host fetch them instead of building.
type NixBuilder struct{ Nix *nix.Nix }

// Build realises drv, then the tests together (going on past a failing one so the log names
// every failure), then pushes the outputs of a green build to the cache, with those of every
// derivation it built on the way (dependencies that were in no cache: another builder needs
// them as much). A push that fails is an error (retried): the build is valid in the store
// by then, so the retry only pushes.
func (b NixBuilder) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	opts := nix.RealiseOptions{Heartbeat: func(time.Duration) { heartbeat() }, HeartbeatEvery: 5 * time.Second}
	res, err := b.Nix.Realise(ctx, drv, opts)
	if f, ok := nix.AsBuildFailure(err); ok {
		return wire.BuildResult{Status: store.StatusFailed, ExitCode: f.ExitCode, LogTail: f.LogTail}, nil
	}
	if err != nil {
		return wire.BuildResult{}, err
	}
	out := wire.BuildResult{Status: store.StatusPassed, Outputs: res.Outputs, LogTail: res.LogTail,
		Built: len(res.Built), Substituted: len(res.Substituted)}
	built := res.Built
	if len(tests) > 0 {
		tres, err := b.Nix.RealiseAll(ctx, tests, opts)
		if f, ok := nix.AsBuildFailure(err); ok {
			return wire.BuildResult{Status: store.StatusTestFailed, Outputs: res.Outputs, ExitCode: f.ExitCode,
				FailedTest: f.Drv, LogTail: f.LogTail}, nil
		}
		if err != nil {
			return wire.BuildResult{}, err
		}
		out.Outputs = append(out.Outputs, tres.Outputs...)
		out.Built += len(tres.Built)
		out.Substituted += len(tres.Substituted)
		built = append(built, tres.Built...)
	}
	if !b.Nix.Config().Cache.CanPush() {
		return out, nil
	}
	push := slices.Clone(out.Outputs)
	if len(built) > 0 {
		more, err := b.Nix.ValidOutputs(ctx, built)
		if err != nil {
			return wire.BuildResult{}, err
		}
		push = append(push, more...)
	}
	if err := b.Nix.Push(ctx, push, opts); err != nil {
		return wire.BuildResult{}, err
	}
	return out, nil
}

// IsUnknownDerivation reports that a builder's store lacks the derivation (it was evaluated
// on another machine, or garbage-collected): evaluating the commit again writes it.
func IsUnknownDerivation(err error) bool { return errors.Is(err, nix.ErrUnknownDerivation) }

// NoopBuilder passes every build at once without running anything: it measures Crest's own
// overhead (`crest bench waves --builder noop`).
type NoopBuilder struct{}

// Build reports success.
func (NoopBuilder) Build(context.Context, string, []string, func()) (wire.BuildResult, error) {
	return wire.BuildResult{Status: store.StatusPassed}, nil
}

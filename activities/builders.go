package activities

import (
	"context"
	"errors"
	"time"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
)

// NixBuilder builds with Nix.
type NixBuilder struct{ Nix *nix.Nix }

// Build realises drv, then the tests together (going on past a failing one so the log names
// every failure).
func (b NixBuilder) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	opts := nix.RealiseOptions{Heartbeat: func(time.Duration) { heartbeat() }, HeartbeatEvery: 5 * time.Second}
	res, err := b.Nix.Realise(ctx, drv, opts)
	if f, ok := nix.AsBuildFailure(err); ok {
		return wire.BuildResult{Status: store.StatusFailed, ExitCode: f.ExitCode, LogTail: f.LogTail}, nil
	}
	if err != nil {
		return wire.BuildResult{}, err
	}
	out := wire.BuildResult{Status: store.StatusPassed, Outputs: res.Outputs, LogTail: res.LogTail}
	if len(tests) == 0 {
		return out, nil
	}
	tres, err := b.Nix.RealiseAll(ctx, tests, opts)
	if f, ok := nix.AsBuildFailure(err); ok {
		return wire.BuildResult{Status: store.StatusTestFailed, Outputs: res.Outputs, ExitCode: f.ExitCode,
			FailedTest: f.Drv, LogTail: f.LogTail}, nil
	}
	if err != nil {
		return wire.BuildResult{}, err
	}
	out.Outputs = append(out.Outputs, tres.Outputs...)
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

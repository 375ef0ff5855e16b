package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RealiseOptions carry a build's progress callbacks, which run on the goroutine that called
// Realise (never concurrently with each other), so an activity can heartbeat from them.
type RealiseOptions struct {
	// OnLine receives every line of output as it arrives: Nix's messages and the builders'
	// logs.
	OnLine func(line string)
	// Heartbeat is called every HeartbeatEvery with the time elapsed, output or not, so that
	// long silent builds still report that they are alive.
	Heartbeat func(elapsed time.Duration)
	// HeartbeatEvery is the heartbeat period; 0 means 10 seconds.
	HeartbeatEvery time.Duration
}

// Result is a finished build.
type Result struct {
	// Outputs are the store paths built (or found valid), in the order Nix printed them.
	Outputs []string `json:"outputs"`
	// Duration is how long nix-store ran.
	Duration time.Duration `json:"duration"`
	// LogTail is the end of nix-store's output (builders' logs and Nix's messages); empty
	// when everything was already valid.
	LogTail string `json:"log_tail,omitempty"`
	// Built lists the derivations this run built, in the order Nix started them: what the
	// store had neither valid nor could substitute.
	Built []string `json:"built,omitempty"`
	// Substituted lists the paths this run fetched from a substituter (the cache) instead
	// of building them, derivations included.
	Substituted []string `json:"substituted,omitempty"`
}

// BuildFailure is a build that Nix ran and that failed: a builder exited non-zero, timed out,
// or produced a wrong hash. Building the same derivations again fails the same way, so it is
// not worth retrying; errors.As finds it in the errors of Realise and RealiseAll.
type BuildFailure struct {
	// Drv is the derivation whose builder failed: the one asked for, or one of its
	// dependencies. When several failed (RealiseAll), it is the first Nix reported.
	Drv string `json:"drv"`
	// ExitCode is Drv's builder's exit status; -1 when it was killed or Nix did not say.
	ExitCode int `json:"exit_code"`
	// Failed lists every derivation whose builder failed, in the order Nix reported them.
	Failed []string `json:"failed"`
	// DependencyFailed lists the derivations asked for, or on the way to them, that were not
	// built because a dependency failed.
	DependencyFailed []string `json:"dependency_failed,omitempty"`
	// Status is nix-store's exit status: 100, plus 1 if a build timed out, 2 for a hash
	// mismatch, 4 for a non-deterministic build.
	Status int `json:"status"`
	// Message is Nix's error line about Drv.
	Message string `json:"message"`
	// LogTail is the end of Drv's build log (nix-store --read-log), or of nix-store's output
	// when the log is not available; it holds the builder's own error message.
	LogTail string `json:"log_tail"`
}

// Error gives Nix's message about the failed builder and the builder's own last error line.
func (e *BuildFailure) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("build of %s failed (nix-store exit status %d)", e.Drv, e.Status)
	}
	if why := lastErrorLine(e.LogTail); why != "" && !strings.Contains(msg, why) {
		msg += ": " + why
	}
	return msg
}

// TimedOut tells whether a build was stopped for taking too long (Nix's timeout or
// max-silent-time), which a caller may prefer to treat as flaky.
func (e *BuildFailure) TimedOut() bool { return e.Status >= 100 && (e.Status-100)&1 != 0 }

var (
	reBuilderFailed = regexp.MustCompile(`builder for '([^']+\.drv)' failed (?:with exit code (\d+)|due to signal (\d+))`)
	reTimedOut      = regexp.MustCompile(`building of '([^']+\.drv)' timed out`)
	reHashMismatch  = regexp.MustCompile(`hash mismatch in fixed-output derivation '([^']+\.drv)'`)
	reDepsFailed    = regexp.MustCompile(`dependencies of derivation '([^']+\.drv)' failed to build`)
	reBuilding      = regexp.MustCompile(`^building '(/[^']+\.drv)'`)
	reSubstituting  = regexp.MustCompile(`^copying path '(/[^']+)' from '[^']+'`)
)

// Realise builds drv and its dependencies (nix-store --realise), or finds them valid. A
// failing builder is a *BuildFailure; cancelling ctx (or its deadline) stops the build,
// builders included, and returns an error wrapping ctx.Err(); anything else is an
// infrastructure error (*CommandError, ErrUnknownDerivation, ErrNixMissing).
func (n *Nix) Realise(ctx context.Context, drv string, opts RealiseOptions) (Result, error) {
	res, err := n.realise(ctx, []string{drv}, false, opts)
	if err != nil {
		return res, fmt.Errorf("realise %s: %w", drv, err)
	}
	return res, nil
}

// RealiseAll builds several derivations in one nix-store run, going on past failures
// (--keep-going), e.g. a package with its passthru.tests. When some fail it returns the
// outputs of those that were built along with a *BuildFailure naming every failed builder
// and every derivation left unbuilt because of them.
func (n *Nix) RealiseAll(ctx context.Context, drvs []string, opts RealiseOptions) (Result, error) {
	if len(drvs) == 0 {
		return Result{}, nil
	}
	res, err := n.realise(ctx, drvs, true, opts)
	if err != nil {
		return res, fmt.Errorf("realise %d derivations: %w", len(drvs), err)
	}
	return res, nil
}

func (n *Nix) realise(ctx context.Context, drvs []string, keepGoing bool, opts RealiseOptions) (Result, error) {
	args := append([]string{n.store, "--realise"}, drvs...)
	if keepGoing {
		args = append(args, "--keep-going")
	}
	args = append(args, n.optionArgs()...)

	var stdout bytes.Buffer
	var built, substituted []string
	onLine := func(line string) {
		if m := reBuilding.FindStringSubmatch(line); m != nil {
			built = append(built, m[1])
		} else if m := reSubstituting.FindStringSubmatch(line); m != nil {
			substituted = append(substituted, m[1])
		}
		if opts.OnLine != nil {
			opts.OnLine(line)
		}
	}
	start := time.Now()
	res := n.run(ctx, process{
		args: args, stdout: &stdout,
		onLine: onLine, beat: opts.Heartbeat, beatTick: opts.HeartbeatEvery,
	})
	out := Result{Outputs: strings.Fields(stdout.String()), Duration: time.Since(start), LogTail: res.tail,
		Built: built, Substituted: substituted}
	if res.err == nil {
		return out, nil
	}
	if ctx.Err() != nil || res.exitCode < 100 || res.exitCode > 107 {
		return out, commandError(args, res)
	}
	f := n.buildFailure(ctx, drvs, res)
	if keepGoing {
		// nix-store prints no outputs when anything failed: find those that were built.
		failed := map[string]bool{}
		for _, d := range append(slices.Clone(f.Failed), f.DependencyFailed...) {
			failed[d] = true
		}
		var built []string
		for _, d := range drvs {
			if !failed[d] {
				built = append(built, d)
			}
		}
		if len(built) > 0 {
			out.Outputs, _ = n.ValidOutputs(ctx, built)
		}
	}
	return out, f
}

// ValidOutputs returns the outputs of drvs that are valid in the store.
func (n *Nix) ValidOutputs(ctx context.Context, drvs []string) ([]string, error) {
	var stdout bytes.Buffer
	args := append(append([]string{n.store, "--query", "--outputs"}, drvs...), n.optionArgs()...)
	if res := n.run(ctx, process{args: args, stdout: &stdout}); res.err != nil {
		return nil, commandError(args, res)
	}
	outputs := strings.Fields(stdout.String())
	list, err := n.Invalid(ctx, outputs)
	if err != nil {
		return nil, err
	}
	invalid := map[string]bool{}
	for _, p := range list {
		invalid[p] = true
	}
	return slices.DeleteFunc(outputs, func(p string) bool { return invalid[p] }), nil
}

// buildFailure reads a failed nix-store run: which builders failed, which derivations were
// left unbuilt, and the failed builder's own log.
func (n *Nix) buildFailure(ctx context.Context, drvs []string, res result) *BuildFailure {
	f := &BuildFailure{ExitCode: -1, Status: res.exitCode}
	seen := map[string]bool{}
	for _, line := range strings.Split(res.tail, "\n") {
		var drv, msg string
		code := -1
		if m := reBuilderFailed.FindStringSubmatch(line); m != nil {
			drv, msg = m[1], line
			if m[2] != "" {
				code, _ = strconv.Atoi(m[2])
			}
		} else if m := reTimedOut.FindStringSubmatch(line); m != nil {
			drv, msg = m[1], line
		} else if m := reHashMismatch.FindStringSubmatch(line); m != nil {
			drv, msg = m[1], line
		} else if m := reDepsFailed.FindStringSubmatch(line); m != nil {
			f.DependencyFailed = append(f.DependencyFailed, m[1])
			continue
		} else {
			continue
		}
		if seen[drv] {
			continue
		}
		seen[drv] = true
		f.Failed = append(f.Failed, drv)
		if f.Drv == "" {
			f.Drv, f.ExitCode = drv, code
			f.Message = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(msg), "error:"))
		}
	}
	if f.Drv == "" {
		// Nix's messages fell out of the tail, or it reported the failure in words we do not
		// know: blame what was asked for.
		f.Drv = drvs[0]
		f.Message = lastErrorLine(res.tail)
	}
	f.LogTail = res.tail
	if log, err := n.Log(ctx, f.Drv); err == nil && strings.TrimSpace(log) != "" {
		f.LogTail = log
	}
	return f
}

// Valid tells whether every output of drv is already in the store (so a re-run need not
// build it) and returns the output paths. A derivation that is not in the store itself is
// an error wrapping ErrUnknownDerivation.
func (n *Nix) Valid(ctx context.Context, drv string) ([]string, bool, error) {
	var stdout bytes.Buffer
	args := append([]string{n.store, "--query", "--outputs", drv}, n.optionArgs()...)
	if res := n.run(ctx, process{args: args, stdout: &stdout}); res.err != nil {
		return nil, false, fmt.Errorf("outputs of %s: %w", drv, commandError(args, res))
	}
	outputs := strings.Fields(stdout.String())
	if len(outputs) == 0 {
		return nil, false, fmt.Errorf("outputs of %s: nix-store listed none", drv)
	}
	invalid, err := n.Invalid(ctx, outputs)
	if err != nil {
		return outputs, false, fmt.Errorf("outputs of %s: %w", drv, err)
	}
	return outputs, len(invalid) == 0, nil
}

// Log returns the end of the stored build log of drv (nix-store --read-log), as much as
// Config.LogTailBytes allows. Nix keeps the logs of failed builds as well as successful ones.
func (n *Nix) Log(ctx context.Context, drv string) (string, error) {
	t := newTail(n.cfg.LogTailBytes)
	args := append([]string{n.store, "--read-log", drv}, n.optionArgs()...)
	res := n.run(ctx, process{args: args, stdout: t})
	if res.err != nil {
		return "", fmt.Errorf("build log of %s: %w", drv, commandError(args, res))
	}
	return t.String(), nil
}

// AsBuildFailure returns the *BuildFailure in err's chain, if there is one.
func AsBuildFailure(err error) (*BuildFailure, bool) {
	var f *BuildFailure
	ok := errors.As(err, &f)
	return f, ok
}

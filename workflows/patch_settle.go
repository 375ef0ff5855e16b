package workflows

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// patchRound is a rebuild's build round, whose failures people settle.
type patchRound struct {
	WaveID      int64
	MinorWaveID int64
	Name        string // the security tag it makes, which names it in issues and answers
}

// takeRequests sets up the Resolve and Retry updates of a patch, with the request types
// and checks of a minor wave's: the validators refuse at once what a request says on its
// own (no rebuild waiting, a resolution a person may not set, no one named, no reason),
// and the handlers check the package against what Postgres records (CheckRequest, with
// policy.ValidatePatchResolve's rules: a protected package is fixed or nothing) before
// they queue the request for settle. A refusal changes nothing.
func (p *securityPatch) takeRequests(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResolve, p.takeResolve,
		workflow.UpdateHandlerOptions{Validator: func(r ResolveRequest) error {
			if err := p.takesRequests(); err != nil {
				return err
			}
			return policy.CheckResolveRequest(r.policyRequest())
		}},
	); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRetry, p.takeRetry,
		workflow.UpdateHandlerOptions{Validator: func(r RetryRequest) error {
			if err := p.takesRequests(); err != nil {
				return err
			}
			return checkPackage(r.Package)
		}},
	)
}

// takesRequests tells whether the patch has a rebuild whose failures may be settled now.
func (p *securityPatch) takesRequests() error {
	switch p.st.Phase {
	case PatchPhaseDone, PatchPhaseFailed, PatchPhaseCancelled:
		return fmt.Errorf("the patch is %s", p.st.Phase)
	}
	if p.settling == nil {
		return errors.New("the patch has no rebuild with failures to settle: Resolve and Retry settle a rebuild's failures")
	}
	return nil
}

// takeResolve checks a person's resolution against the rebuild's records and queues it.
func (p *securityPatch) takeResolve(ctx workflow.Context, r ResolveRequest) (string, error) {
	req := r.policyRequest()
	round, system, err := p.check(ctx, r.Package, &req)
	if err != nil {
		return "", err
	}
	r.System = system
	p.resolves = append(p.resolves, r)
	return fmt.Sprintf("%s: %s will be resolved as %s", round.Name, r.Package, r.Resolution), nil
}

// takeRetry is takeResolve for a retry.
func (p *securityPatch) takeRetry(ctx workflow.Context, r RetryRequest) (string, error) {
	round, system, err := p.check(ctx, r.Package, nil)
	if err != nil {
		return "", err
	}
	r.System = system
	p.retries = append(p.retries, r)
	if r.Ref != "" {
		return fmt.Sprintf("%s: %s will be rebuilt after merging %s", round.Name, r.Package, r.Ref), nil
	}
	return fmt.Sprintf("%s: %s will be rebuilt", round.Name, r.Package), nil
}

// check asks CheckRequest whether a request about pkg (a resolution; nil: a retry) may
// be taken by the rebuild that waits, and returns that rebuild and the system the
// failure is on.
func (p *securityPatch) check(ctx workflow.Context, pkg string, resolve *policy.ResolveRequest) (patchRound, string, error) {
	round := *p.settling
	at, err := checkRequest(ctx, wire.CheckRequestInput{WaveID: round.WaveID, MinorWaveID: round.MinorWaveID,
		Package: pkg, Resolve: resolve, Patch: true})
	if err == nil {
		err = p.stillSettling(round)
	}
	return round, at.System, err
}

// stillSettling refuses a request whose rebuild stopped taking requests while it was
// checked (it was settled, or cancelled).
func (p *securityPatch) stillSettling(round patchRound) error {
	if p.settling == nil || p.settling.MinorWaveID != round.MinorWaveID {
		return fmt.Errorf("%s stopped taking requests while this one was checked: see crest patch status", round.Name)
	}
	return nil
}

// settle brings a rebuild's failures to an end as a minor wave's: each review files or
// updates one issue per root cause and lets policy decide (Review: protected packages
// block, others may be marked broken after their grace period), then the patch waits for
// people. Their resolutions are recorded (Resolve, dependents following); their retries
// merge the fixes onto the security tag's branch, evaluate it, and build the retried
// packages, their dependents and whatever the fixes changed in one more round of the same
// build round (PrepareRound, BuildSet). It returns once policy.Settled says the rebuild
// may tag, with in pointing at the commit and evaluation to tag; a reason that is not
// empty is why it stopped (cancelled). Trouble with a fix (it does not merge or evaluate)
// is said in the status, and the patch waits for another.
func (p *securityPatch) settle(ctx workflow.Context, st *PatchTagStatus, in *wire.PatchRebuildInput, layout wire.PatchRebuildLayout) (string, error) {
	bctx := bookkeeping(ctx)
	summarize := func() (wire.Summary, error) {
		var sum wire.Summary
		err := workflow.ExecuteActivity(bctx, wire.ActivitySummarize, wire.SummaryInput{MinorWaveID: layout.MinorWaveID}).Get(ctx, &sum)
		st.Failures = sum.Failures
		return sum, err
	}
	trouble := "" // why the last retry built nothing
	for {
		if err := p.applyResolves(ctx, in.Prepared.Name, layout.MinorWaveID); err != nil {
			return "", err
		}
		sum, err := summarize()
		if err != nil {
			return "", err
		}
		if p.cancelled {
			p.stopped = true
			return "cancelled while its failures waited to be settled; nothing tagged", nil
		}
		if sum.Settled && len(p.retries) == 0 {
			return "", nil
		}
		if len(p.retries) > 0 {
			if trouble, err = p.retryRound(ctx, st, in, layout); err != nil {
				return "", err
			}
			continue
		}
		var review wire.ReviewResult
		if err := workflow.ExecuteActivity(bctx, wire.ActivityReview, wire.ReviewInput{
			Collection: p.in.Collection, Wave: in.Prepared.Name, Major: layout.Major, Minor: layout.Minor,
			WaveID: layout.WaveID, MinorWaveID: layout.MinorWaveID,
			Evaluations: rebuildEvaluations(in),
			Commit:      in.Prepared.Commit, Branch: in.Prepared.Branch, Updates: []wire.Update{{Package: p.in.Package, Ref: p.in.Ref}},
			Policy: layout.Policy, Now: workflow.Now(ctx), Events: p.events, Patch: path.Base(in.WorkflowID),
		}).Get(ctx, &review); err != nil {
			return "", err
		}
		if review.MarkedBroken > 0 {
			continue // the policy settled something: look again
		}
		if sum, err = summarize(); err != nil { // with the issues and the reasons the review recorded
			return "", err
		}
		reason := waitingReason(sum, path.Base(in.WorkflowID), trouble)
		if err := p.recordRunning(ctx, in.Prepared.Name+": "+reason); err != nil {
			return "", err
		}
		p.st.Phase, p.st.Reason = PatchPhaseWaiting, reason
		asked := func() bool { return len(p.resolves) > 0 || len(p.retries) > 0 || p.cancelled }
		if review.Wake.IsZero() {
			err = workflow.Await(ctx, asked)
		} else if d := review.Wake.Sub(workflow.Now(ctx)); d > 0 {
			_, err = workflow.AwaitWithTimeout(ctx, d, asked)
		}
		if err != nil {
			return "", err
		}
		p.st.Reason = ""
	}
}

// recordRunning records why a running patch is where it is (crest patch status and list
// read it from Postgres).
func (p *securityPatch) recordRunning(ctx workflow.Context, reason string) error {
	return workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityRecordPatchState, wire.PatchStateInput{PatchID: p.st.PatchID,
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, State: "running", Strategy: p.st.Strategy, Reason: reason,
	}).Get(ctx, nil)
}

// waitingReason says what a rebuild's failures wait for and what people may do, after
// the trouble of the last retry, if any.
func waitingReason(sum wire.Summary, patch, trouble string) string {
	var names []string
	open := 0
	for _, f := range sum.Failures {
		if f.Resolution == "" {
			open++
			if len(names) < 5 {
				names = append(names, fmt.Sprintf("%s (%s)", f.Package, f.Status))
			}
		}
	}
	reason := "waiting for the policy's next review"
	if open > 0 {
		if open > len(names) {
			names = append(names, fmt.Sprintf("and %d more", open-len(names)))
		}
		reason = fmt.Sprintf("%d %s wait: %s; next: crest patch retry %s PACKAGE --ref FIX, or crest patch resolve %s PACKAGE --as wont-fix|cant-fix (not for protected packages)",
			open, plural(open, "failure", "failures"), strings.Join(names, ", "), patch, patch)
	}
	if trouble != "" {
		reason = trouble + "; " + reason
	}
	return reason
}

// applyResolves records the resolutions people gave (Resolve: the package and the
// dependents it alone blocked). One settled meanwhile (fixed by a retry) is skipped.
func (p *securityPatch) applyResolves(ctx workflow.Context, name string, minorWaveID int64) error {
	for len(p.resolves) > 0 {
		r := p.resolves[0]
		p.resolves = p.resolves[1:]
		err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityResolve, wire.ResolveInput{
			Wave: name, MinorWaveID: minorWaveID, System: r.System, Package: r.Package,
			Resolution: r.Resolution, Reason: r.Reason, Actor: r.By,
		}).Get(ctx, nil)
		if _, refused := invalidInput(err); refused {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// retryRound takes the queued retries: merges their fixes onto the security tag's branch
// and evaluates it (in then names that commit and evaluation), and builds the next round
// of the rebuild: the retried packages, the dependents they blocked, and what the fixes
// changed. A fix that does not merge or evaluate is the trouble it returns, and nothing is
// built: the failures wait for another retry.
func (p *securityPatch) retryRound(ctx workflow.Context, st *PatchTagStatus, in *wire.PatchRebuildInput, layout wire.PatchRebuildLayout) (string, error) {
	bctx := bookkeeping(ctx)
	retries := p.retries
	p.retries = nil
	var pkgs []string
	var fixes []wire.Update
	for _, r := range retries {
		pkgs = append(pkgs, r.Package)
		p.events = append(p.events, wire.PackageEvent{Package: r.Package,
			Event: policy.Event{Kind: policy.EventRetry, At: workflow.Now(ctx), Actor: r.By}})
		if r.Ref != "" && !slices.ContainsFunc(fixes, func(u wire.Update) bool { return u.Ref == r.Ref }) {
			fixes = append(fixes, wire.Update{Package: r.Package, Ref: r.Ref})
		}
	}
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	prev, prevs := in.PatchedEvaluation, slices.Clone(in.Systems)
	what := "retrying " + strings.Join(pkgs, ", ")
	if len(fixes) > 0 {
		what += " with " + fixes[0].Ref
		for _, f := range fixes[1:] {
			what += ", " + f.Ref
		}
	}
	if err := p.recordRunning(ctx, in.Prepared.Name+": "+what); err != nil {
		return "", err
	}
	if len(fixes) > 0 {
		p.st.Phase = PatchPhaseMerging
		var head string
		err := workflow.ExecuteActivity(bctx, wire.ActivityMergeRefs, wire.MergeInput{Collection: p.in.Collection,
			Branch: in.Prepared.Branch, Sources: fixes, Message: fmt.Sprintf("%s: fix for %s", in.Prepared.Name, strings.Join(pkgs, ", ")),
		}).Get(ctx, &head)
		var ev wire.EvaluateResult
		if err == nil {
			p.st.Phase = PatchPhaseEvaluating
			err = workflow.ExecuteActivity(bctx, wire.ActivityEvaluate, wire.EvaluateInput{Collection: p.in.Collection,
				Commit: head, System: in.Tag.System}).Get(ctx, &ev)
		}
		evs := make([]wire.EvaluateResult, len(in.Systems)) // the collection's other systems
		for i, o := range in.Systems {
			if err != nil {
				break
			}
			err = workflow.ExecuteActivity(bctx, wire.ActivityEvaluate, wire.EvaluateInput{Collection: p.in.Collection,
				Commit: head, System: o.System}).Get(ctx, &evs[i])
		}
		if app, ok := nonRetryable(err); ok {
			return fmt.Sprintf("the retry of %s built nothing: %s", strings.Join(pkgs, ", "), app.Message()), nil
		}
		if err != nil {
			return "", err
		}
		in.Prepared.Commit, in.PatchedEvaluation = head, ev.EvaluationID
		for i := range in.Systems {
			in.Systems[i].Patched = evs[i].EvaluationID
		}
	}
	p.st.Phase = PatchPhaseRebuilding
	st.Round++
	for i, sin := range in.GraftsInput.PerSystem() { // each system's round; the first keeps its child's ID
		id := fmt.Sprintf("%s/r%d", in.Key, st.Round)
		if i > 0 {
			id += "/" + sin.Tag.System
			prev = prevOf(prevs, sin.Tag.System)
		}
		round := wire.RoundInput{WaveID: layout.WaveID, MinorWaveID: layout.MinorWaveID, System: sin.Tag.System, Round: st.Round,
			EvaluationID: sin.PatchedEvaluation, PreviousEvaluationID: prev, Retry: pkgs, Dispatch: true, Policy: layout.Policy}
		var laid wire.RoundLayout
		if err := workflow.ExecuteActivity(bctx, wire.ActivityPrepareRound, round).Get(ctx, &laid); err != nil {
			return "", err
		}
		if laid.Packages == 0 || p.cancelled {
			continue
		}
		if err := p.buildSet(ctx, round, id, in.Key); err != nil {
			return fmt.Sprintf("round %d of the rebuild stopped: %s; retry to build it again", st.Round, errorText(err)), nil
		}
	}
	return "", nil
}

// rebuildEvaluations are the merged commit's evaluations a rebuild builds, one per system.
func rebuildEvaluations(in *wire.PatchRebuildInput) []wire.EvaluateResult {
	evs := []wire.EvaluateResult{{System: in.Tag.System, EvaluationID: in.PatchedEvaluation}}
	for _, o := range in.Systems {
		evs = append(evs, wire.EvaluateResult{System: o.System, EvaluationID: o.Patched})
	}
	return evs
}

// prevOf is a system's evaluation before a retry merged its fixes.
func prevOf(prevs []wire.SystemPatch, system string) int64 {
	for _, o := range prevs {
		if o.System == system {
			return o.Patched
		}
	}
	return 0
}

package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// Signals of the duplicate-wave strategy's fork of a running major wave.
const (
	signalSupersede  = "crest.supersede"  // security patch → running major wave: SupersedeRequest
	signalSuperseded = "crest.superseded" // superseded major wave → patch: ForkPlan
	signalReverified = "crest.reverified" // fork → patch: Reverified
)

// SupersedeRequest asks a running major wave to stop in favour of its fork onto a
// security fix: it cancels its running minor waves (their records stay) and answers the
// patch with its plan (ForkPlan).
type SupersedeRequest struct {
	Patch string `json:"patch"` // the patch's workflow ID, which hears the answer
	Fork  string `json:"fork"`  // the fork's name, wave-M
	// Fix is the patch's fix (since versionPatchForkCheck): the wave checks that its fork
	// would start (checkFork) before it stops, and keeps running if not; without it the
	// wave stops at once.
	Fix *wire.Update `json:"fix,omitempty"`
	// Carries are the earlier security fixes of other packages the forked tags' security
	// tags carry (wire.PreparedPatchTag.Carries): the fork merges them with the fix, so
	// its security tags keep them.
	Carries []wire.Update `json:"carries,omitempty"`
}

// Carried is what people gave a minor wave that had not finished when its wave was
// superseded: the fixes of their Retry requests and their Resolve requests. The fork's
// minor wave standing for it starts with them (its first merge takes the fixes, its first
// review the resolutions), so no fix or decision is lost with the superseded wave.
type Carried struct {
	Fixes    []wire.Update    `json:"fixes,omitempty"`
	Resolves []ResolveRequest `json:"resolves,omitempty"`
}

func (c *Carried) empty() bool { return c == nil || len(c.Fixes)+len(c.Resolves) == 0 }

// carriedAt is a copy of carried[i] (nil when there is none), which the minor wave's
// entry may add to without touching the input.
func carriedAt(carried []Carried, i int) *Carried {
	if i >= len(carried) {
		return nil
	}
	return &Carried{Fixes: slices.Clone(carried[i].Fixes), Resolves: slices.Clone(carried[i].Resolves)}
}

// ForkMinor is a finished minor wave of a superseded major wave, which its fork
// re-verifies by merging its tag (everything it merged, fixes included) onto the fix.
type ForkMinor struct {
	Name    string        `json:"name"`
	Tag     string        `json:"tag"`
	Updates []wire.Update `json:"updates"`
}

// ForkPlan is what a superseded major wave hands its fork: its base, its finished minor
// waves in order, and the updates of the minor waves it did not finish, in plan order.
type ForkPlan struct {
	Wave       string          `json:"wave"`
	BaseCommit string          `json:"base_commit"`
	Finished   []ForkMinor     `json:"finished"`
	Remaining  [][]wire.Update `json:"remaining,omitempty"`
	Reason     string          `json:"reason,omitempty"` // why it could not be superseded
	// Carried[i] is what people gave the minor wave of Remaining[i]; Policy the wave's
	// policy overrides (both since versionPatchForkCheck).
	Carried []Carried       `json:"carried,omitempty"`
	Policy  json.RawMessage `json:"policy,omitempty"`
}

// ForkOf makes a major wave the fork of a running one onto a security fix (duplicate-wave
// strategy): its first Reverify minor waves re-verify Of's finished minor waves with the
// fix, and each tells the patch (signalReverified) when it is tagged.
type ForkOf struct {
	Of       string `json:"of"`    // wave-N, superseded
	Patch    string `json:"patch"` // the patch's workflow ID
	Reverify int    `json:"reverify"`
}

// Reverified tells a patch that minor wave Minor of its fork Wave is tagged Tag.
type Reverified struct {
	Wave  string `json:"wave"` // the fork, wave-M
	Minor int    `json:"minor"`
	Tag   string `json:"tag"`
}

// takeSupersede takes a patch's request to stop the wave for its fork: one with the fix
// is checked first (checkFork, in the wave's loop); one without (patches before
// versionPatchForkCheck) stops the wave at once.
func (w *majorWave) takeSupersede(r SupersedeRequest) {
	if w.st.Supersede != nil || w.st.Forking != nil || w.st.Cancelled {
		return
	}
	if r.Fix != nil {
		w.st.Forking = &r
		w.changed++
		return
	}
	w.supersede(r)
}

// supersede stops the wave for its fork: like Cancel, but the wave answers the patch with
// its plan once its minor waves stopped (superseded).
func (w *majorWave) supersede(r SupersedeRequest) {
	w.st.Supersede = &r
	w.st.Cancelled = true
	w.stopChildren()
	w.changed++
}

// checkFork hands the wave over to its fork only once the fork is certain to start: the
// fork's input, made from the wave's plan as it stands, is checked as the fork will check
// it (ValidateWave: refs that still exist, no package given twice, the policy), with no
// re-plan meanwhile (the mutex AddUpdate takes). Refused, the wave keeps running and
// answers the patch why (ForkPlan.Reason), its minor waves untouched; accepted, it stops
// (supersede). Once it stops, only minor waves finishing meanwhile change the plan: their
// updates then come by their tags, which exist.
func (w *majorWave) checkFork(ctx workflow.Context) error {
	r := w.st.Forking
	if r == nil {
		return nil
	}
	workflow.GetVersion(ctx, versionPatchForkCheck, workflow.DefaultVersion, 1)
	if err := w.mu.Lock(ctx); err != nil {
		return err
	}
	defer w.mu.Unlock()
	plan := w.forkPlan()
	switch {
	case w.st.Cancelled:
		plan.Reason = "it is cancelled"
	case len(plan.Finished) == 0:
		plan.Reason = "it has no finished minor wave to fork"
	default:
		in := forkInput(plan, append([]wire.Update{*r.Fix}, r.Carries...), true)
		err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityValidateWave, wire.ValidateWaveInput{
			Collection: w.in.Collection, BaseRef: in.BaseRef, Updates: in.Updates, Policy: in.Policy,
		}).Get(ctx, nil)
		if app, ok := nonRetryable(err); ok {
			plan.Reason = "its fork " + r.Fork + " would be refused: " + app.Message()
		} else if err != nil {
			return err
		}
	}
	w.st.Forking = nil
	if plan.Reason == "" {
		w.supersede(*r)
		return nil
	}
	w.changed++
	// The patch may be gone (cancelled): it would not read the answer anyway.
	_ = workflow.SignalExternalWorkflow(ctx, r.Patch, "", signalSuperseded, plan).Get(ctx, nil)
	return nil
}

// forkPlan is the wave's plan as its fork takes it over: its finished minor waves, and
// the others with what people gave them.
func (w *majorWave) forkPlan() ForkPlan {
	plan := ForkPlan{Wave: w.st.Start.Name, BaseCommit: w.st.Start.BaseCommit, Policy: w.in.Policy}
	for _, m := range w.st.Minor {
		if m.Result != nil {
			plan.Finished = append(plan.Finished, ForkMinor{Name: m.Plan.Name, Tag: m.Result.Tag, Updates: m.Plan.Updates})
			continue
		}
		plan.Remaining = append(plan.Remaining, m.Plan.Updates)
		c := Carried{}
		if m.Carried != nil {
			c.Fixes = m.Carried.Fixes
			for _, r := range m.Carried.Resolves { // the fork's records say where the decision came from
				r.Reason = fmt.Sprintf("%s (carried from %s, superseded)", r.Reason, m.Plan.Name)
				c.Resolves = append(c.Resolves, r)
			}
		}
		plan.Carried = append(plan.Carried, c)
	}
	return plan
}

// remember keeps what people gave a running minor wave (a Retry's fix, a Resolve), which a
// fork that supersedes the wave carries to the minor wave standing for it (forkPlan).
func (w *majorWave) remember(number int, req any) {
	m := w.entry(number)
	if m == nil {
		return
	}
	if m.Carried == nil {
		m.Carried = &Carried{}
	}
	switch r := req.(type) {
	case RetryRequest:
		fix := wire.Update{Package: r.Package, Ref: r.Ref}
		if r.Ref != "" && !slices.Contains(m.Carried.Fixes, fix) {
			m.Carried.Fixes = append(m.Carried.Fixes, fix)
		}
	case ResolveRequest:
		m.Carried.Resolves = append(m.Carried.Resolves, r)
	}
}

// superseded ends a wave its fork replaces: cancelled, with the reason pointing at the
// fork, and its plan sent to the patch that forked it. Its tags and records stay.
func (w *majorWave) superseded(ctx workflow.Context) (MajorWaveResult, error) {
	workflow.GetVersion(ctx, versionPatchForkWave, workflow.DefaultVersion, 1)
	r := *w.st.Supersede
	plan := w.forkPlan()
	res, err := w.fail(ctx, temporal.NewCanceledError(w.st.Start.Name+" superseded by "+r.Fork))
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.SignalExternalWorkflow(dctx, r.Patch, "", signalSuperseded, plan).Get(dctx, nil)
	return res, err
}

// forkInput is the fork onto fixes (the patch's, then the earlier ones it carries) of a
// superseded wave, from its plan: one re-verifying minor wave per finished one (the fixes
// go with the first; each merges the finished one's tag: its updates and every fix it
// took), then the minor waves it did not finish. With
// carry (since versionPatchForkCheck) those take what people gave them (Carried) and the
// fork the wave's policy overrides.
func forkInput(plan ForkPlan, fixes []wire.Update, carry bool) MajorWaveInput {
	in := MajorWaveInput{BaseRef: plan.BaseCommit}
	for i, m := range plan.Finished {
		var ups []wire.Update
		if i == 0 {
			ups = append(ups, fixes...)
		}
		for _, u := range m.Updates {
			ups = append(ups, wire.Update{Package: u.Package, Ref: m.Tag})
		}
		in.Minors = append(in.Minors, ups)
	}
	in.Minors = append(in.Minors, plan.Remaining...)
	if carry {
		in.Policy = plan.Policy
		if slices.ContainsFunc(plan.Carried, func(c Carried) bool { return !c.empty() }) {
			in.Carried = append(make([]Carried, len(plan.Finished)), plan.Carried...)
		}
	}
	for _, ups := range in.Minors {
		in.Updates = append(in.Updates, ups...)
	}
	return in
}

// reportReverified tells the patch of a fork each re-verifying minor wave that was
// tagged, in order.
func (w *majorWave) reportReverified(ctx workflow.Context) {
	f := w.in.Fork
	if f == nil {
		return
	}
	for w.st.Reported < f.Reverify {
		m := w.entry(w.st.Reported + 1)
		if m == nil || m.Result == nil {
			return
		}
		_ = workflow.SignalExternalWorkflow(ctx, f.Patch, "", signalReverified,
			Reverified{Wave: w.st.Start.Name, Minor: m.Plan.Number, Tag: m.Result.Tag}).Get(ctx, nil)
		w.st.Reported++
	}
}

// explicitPlan lays out the minor waves given in the input (a fork's), one after the
// other, in order: no planner, so each re-verifies what it stands for.
func (w *majorWave) explicitPlan() {
	for i, ups := range w.in.Minors {
		pm := wire.PlannedMinor{Number: i + 1, Name: fmt.Sprintf("%s-%d", w.st.Start.Name, i+1), Updates: ups}
		if i > 0 {
			pm.After = []int{i}
		}
		e := minorEntry{Plan: pm, Status: MinorStatus{Name: pm.Name, Number: pm.Number, Phase: PhasePending, Updates: pm.Updates}}
		if c := carriedAt(w.in.Carried, i); !c.empty() {
			e.Carried = c
		}
		w.st.Minor = append(w.st.Minor, e)
		w.st.Plan.Minor = append(w.st.Plan.Minor, pm)
	}
}

// forkable finds, for a duplicate-wave patch (since versionPatchForkWave; an auto one
// since versionPatchForkAuto, whose tags fork if policy chooses duplicate-wave), the
// running major waves that finished tags it covers belong to: those are forked onto the
// fix (fork) instead of duplicated tag by tag. A wave that updates the patched package
// itself is not forked (since versionPatchForkAuto): its fork would be refused for the
// package given twice, once the wave was superseded; its tags get a wave each.
func (p *securityPatch) forkable(ctx workflow.Context, tags []wire.CoveredTag) (map[int64]wire.RunningWave, error) {
	forks := map[int64]wire.RunningWave{}
	strategy := policy.Strategy(p.in.Strategy)
	guarded := false
	if strategy == policy.StrategyDuplicateWave || strategy == policy.StrategyAuto {
		guarded = workflow.GetVersion(ctx, versionPatchForkAuto, workflow.DefaultVersion, 1) == 1
	}
	if (strategy != policy.StrategyDuplicateWave && !(strategy == policy.StrategyAuto && guarded)) ||
		workflow.GetVersion(ctx, versionPatchForkWave, workflow.DefaultVersion, 1) != 1 {
		return forks, nil
	}
	var waves []wire.RunningWave
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityPatchRunningWaves, wire.RunningWavesInput{Collection: p.in.Collection,
		Package: p.in.Package}).Get(ctx, &waves); err != nil {
		return nil, err
	}
	for _, wv := range waves {
		if guarded && wv.UpdatesPackage {
			continue
		}
		if slices.ContainsFunc(tags, func(t wire.CoveredTag) bool { return t.WaveID == wv.WaveID }) {
			forks[wv.WaveID] = wv
		}
	}
	return forks, nil
}

// forkTag is a covered tag of a forked wave, unfinished until the fork re-verifies it.
type forkTag struct {
	st  int // index in p.st.Tags
	gin wire.GraftsInput
	dup wire.DuplicateWave
}

// unfinishedInFork tags the fix merged onto a finished tag of a running wave that is
// being forked <tag>-security-K-unfinished at once (StartDuplicateWave, with the fork's
// wave allocated once for all of them), to be finished when the fork re-verifies it.
func (p *securityPatch) unfinishedInFork(ctx workflow.Context, st *PatchTagStatus, gin wire.GraftsInput, d policy.StrategyDecision) (string, error) {
	p.st.Strategy, st.Strategy = string(d.Strategy), string(d.Strategy)
	gin.Strategy, gin.Reason = string(d.Strategy), d.Reason
	f := p.forking
	gin.Fork, gin.DuplicateWave = f.wave.Name, f.number
	var dup wire.DuplicateWave
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityStartDuplicateWave, gin).Get(ctx, &dup); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	f.number = dup.Number
	st.Wave, st.Unfinished = dup.Name, dup.Unfinished
	st.Reason = fmt.Sprintf("unfinished: %s has the fix merged, not yet built or tested; %s, the fork of %s onto the fix, re-verifies %s",
		dup.Unfinished, dup.Name, f.wave.Name, gin.Tag.Tag)
	i := 0
	for i < len(p.st.Tags) && &p.st.Tags[i] != st { // st's index: one entry per tag and system
		i++
	}
	f.tags = append(f.tags, forkTag{st: i, gin: gin, dup: dup})
	return "", nil
}

// forking is a running wave being forked: the fork's number, once allocated, and the
// covered tags it re-verifies.
type forking struct {
	wave   wire.RunningWave
	number int
	tags   []forkTag
}

// fork forks a running major wave onto the fix (duplicate-wave, issue 11): its finished
// tags already carry unfinished tags with the fix (unfinishedInFork). The running wave is
// superseded (signalSupersede: it stops its minor waves, ends cancelled with a reason
// naming the fork, and answers with its plan), and the fork starts as a child that
// outlives the patch: a major wave from the superseded wave's base whose first minor
// waves re-verify the finished ones — the fix, then each finished minor wave's tag merged
// (its updates and every fix it took) — and then carries on with the updates of the
// minor waves not finished. Each covered tag becomes <tag>-security-K at its
// re-verifying minor wave's tag (TagDuplicateWave) as soon as that one is tagged; the
// patch does not wait for the rest of the fork.
func (p *securityPatch) fork(ctx workflow.Context, f *forking) (string, error) {
	if len(f.tags) == 0 {
		return "", nil
	}
	bctx := bookkeeping(ctx)
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	fork := f.tags[0].dup
	p.st.Phase = PatchPhaseReverifying
	var plan ForkPlan
	answered := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, signalSuperseded).Receive(ctx, &plan)
		answered = true
	})
	fix := wire.Update{Package: p.in.Package, Ref: p.in.Ref}
	carries := f.carries(p.in.Package)
	req := SupersedeRequest{Patch: id, Fork: fork.Name, Carries: carries}
	checked := workflow.GetVersion(ctx, versionPatchForkCheck, workflow.DefaultVersion, 1) == 1
	if checked {
		req.Fix = &fix // the wave stops only once its fork is certain to start
	}
	if err := workflow.SignalExternalWorkflow(ctx, f.wave.WorkflowID, "", signalSupersede, req).Get(ctx, nil); err != nil {
		return fmt.Sprintf("%s could not be forked: %s; its tags stay unfinished", f.wave.Name, errorText(err)), nil
	}
	if ok, err := workflow.AwaitWithTimeout(ctx, fixMergeWait, func() bool { return answered }); err != nil {
		return "", err
	} else if !ok {
		return fmt.Sprintf("%s did not answer within %s; nothing forked, its tags stay unfinished", f.wave.Name, fixMergeWait), nil
	}
	if plan.Reason != "" { // refused by the wave's check: it keeps running
		var unfinished []string
		for _, ft := range f.tags {
			unfinished = append(unfinished, ft.dup.Unfinished)
		}
		return fmt.Sprintf("not forked, it keeps running: %s; %s stay unfinished", plan.Reason, strings.Join(unfinished, ", ")), nil
	}
	reverify := map[string]int{} // covered tag → fork minor; looked up, never ranged
	for i, m := range plan.Finished {
		reverify[m.Tag] = i + 1
	}
	if len(plan.Finished) == 0 {
		return fmt.Sprintf("%s had no finished minor wave to fork", f.wave.Name), nil
	}
	in := forkInput(plan, append([]wire.Update{fix}, carries...), checked)
	in.Collection, in.Wave, in.Limits = p.in.Collection, fork.Number, p.in.Limits
	in.Title = fmt.Sprintf("fork of %s onto %s from %s (duplicate-wave of %s)", f.wave.Name, p.in.Package, p.in.Ref, id)
	in.Fork = &ForkOf{Of: f.wave.Name, Patch: id, Reverify: len(plan.Finished)}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: fork.WorkflowID, ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, MajorWave, in)
	tagged := p.reverifiedBy(ctx, fork.Name)
	ended := false
	var forkErr error
	workflow.Go(ctx, func(ctx workflow.Context) {
		forkErr = child.Get(ctx, nil)
		ended = true
	})
	for _, ft := range f.tags {
		st := &p.st.Tags[ft.st]
		n, ok := reverify[ft.gin.Tag.Tag]
		if !ok {
			return fmt.Sprintf("%s is not a finished minor wave of %s; %s stays unfinished", ft.gin.Tag.Tag, f.wave.Name, ft.dup.Unfinished), nil
		}
		st.Reason = fmt.Sprintf("unfinished: %s has the fix merged, not yet built or tested; %s-%d re-verifies %s with it",
			ft.dup.Unfinished, fork.Name, n, ft.gin.Tag.Tag)
		if err := workflow.Await(ctx, func() bool { return tagged[n] != "" || ended || p.cancelled }); err != nil {
			return "", err
		}
		switch {
		case tagged[n] == "" && p.cancelled:
			_ = child.SignalChildWorkflow(ctx, SignalCancel, nil).Get(ctx, nil)
			p.stopped = true
			return fmt.Sprintf("cancelled while %s re-verified the fix; %s stays unfinished", fork.Name, ft.dup.Unfinished), nil
		case tagged[n] == "":
			why := "it ended"
			if forkErr != nil {
				why = errorText(forkErr)
			}
			return fmt.Sprintf("%s did not re-verify %s: %s; %s stays unfinished", fork.Name, ft.gin.Tag.Tag, why, ft.dup.Unfinished), nil
		}
		var res wire.SecurityTagResult
		if err := workflow.ExecuteActivity(bctx, wire.ActivityTagDuplicateWave, wire.DuplicateTagInput{GraftsInput: ft.gin, Wave: ft.dup,
			WaveTags: []string{tagged[n]}}).Get(ctx, &res); err != nil {
			if app, ok := nonRetryable(err); ok {
				return app.Message(), nil
			}
			return "", err
		}
		st.Tag, st.Commit, st.Done = res.Tag, res.Commit, true
		st.Reason = fmt.Sprintf("finished: %s re-verified %s with the fix (tag %s); the fork carries on with %s's other minor waves",
			fork.Name, ft.gin.Tag.Tag, tagged[n], f.wave.Name)
	}
	return "", nil
}

// reverifiedBy is fork's minor waves' tags by number, as the fork reports them: one
// reader of signalReverified per patch, which may fork several waves.
func (p *securityPatch) reverifiedBy(ctx workflow.Context, fork string) map[int]string {
	if p.reverified == nil {
		p.reverified = map[string]map[int]string{}
		workflow.Go(ctx, func(ctx workflow.Context) {
			ch := workflow.GetSignalChannel(ctx, signalReverified)
			for {
				var r Reverified
				ch.Receive(ctx, &r)
				if p.reverified[r.Wave] == nil {
					p.reverified[r.Wave] = map[int]string{}
				}
				p.reverified[r.Wave][r.Minor] = r.Tag
			}
		})
	}
	if p.reverified[fork] == nil {
		p.reverified[fork] = map[int]string{}
	}
	return p.reverified[fork]
}

// carries are the earlier fixes of packages other than pkg that the security tags of the
// forked wave's covered tags carry (stacked), each once, in the order first seen.
func (f *forking) carries(pkg string) []wire.Update {
	var ups []wire.Update
	for _, ft := range f.tags {
		for _, c := range ft.gin.Prepared.Carries {
			if c.Package != pkg && !slices.ContainsFunc(ups, func(u wire.Update) bool { return u.Package == c.Package }) {
				ups = append(ups, wire.Update{Package: c.Package, Ref: c.Ref})
			}
		}
	}
	return ups
}

// forkSummary names the forks a patch started, for its reason.
func forkSummary(forks []*forking) string {
	var parts []string
	for _, f := range forks {
		if len(f.tags) > 0 {
			parts = append(parts, fmt.Sprintf("%s forked onto the fix as %s", f.wave.Name, f.tags[0].dup.Name))
		}
	}
	return strings.Join(parts, "; ")
}

package workflows

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// MajorWaveInput starts a major wave. It is one JSON object a person can type into the Web
// UI's Start Workflow form, e.g.
//
//	{"collection": "demo", "title": "libcore 2",
//	 "updates": [{"package": "libcore", "ref": "update/libcore-2"}]}
type MajorWaveInput struct {
	Collection string          `json:"collection"`
	Wave       int             `json:"wave,omitempty"` // 0: the next number
	Title      string          `json:"title,omitempty"`
	BaseRef    string          `json:"base_ref,omitempty"` // default: the collection's main branch
	Updates    []wire.Update   `json:"updates"`
	Groups     [][]string      `json:"groups,omitempty"` // packages to update together
	Policy     json.RawMessage `json:"policy,omitempty"` // overrides of the collection's policy
	Limits     Limits          `json:"limits,omitempty"`
	// Minors, when given, is the plan: one minor wave per entry, in order, each after the
	// previous (a fork re-verifying a superseded wave's minor waves); Updates lists them all.
	Minors [][]wire.Update `json:"minors,omitempty"`
	// Fork makes the wave the fork of a running one onto a security fix (duplicate-wave).
	Fork *ForkOf `json:"fork,omitempty"`
	// Carried[i] is what people gave the superseded wave's minor wave that Minors[i]
	// stands for (a fork's): that minor wave starts with it.
	Carried []Carried `json:"carried,omitempty"`
	// Resume carries the state across continue-as-new; people leave it out.
	Resume *majorState `json:"resume,omitempty"`
}

// MajorWaveResult is a finished major wave.
type MajorWaveResult struct {
	Name  string            `json:"name"`
	Phase string            `json:"phase"`
	Tags  []string          `json:"tags"`
	Minor []MinorWaveResult `json:"minor"`
}

// MajorStatus is the Status query's answer.
type MajorStatus struct {
	Name       string        `json:"name"`
	Collection string        `json:"collection"`
	Title      string        `json:"title,omitempty"`
	Phase      string        `json:"phase"`
	Paused     bool          `json:"paused,omitempty"`
	Branch     string        `json:"branch"`
	Minor      []MinorStatus `json:"minor"`
	// Reason says why the wave is in its phase and what a person may do.
	Reason string `json:"reason,omitempty"`
	// Fixes are the security fixes patches merged into the wave's branch (or that it
	// refused), and the minor wave that rebuilds against each.
	Fixes []MergedFix `json:"fixes,omitempty"`
	// Fork: the wave is the fork of Fork.Of onto a security fix; SupersededBy: the fork
	// that replaced this wave (which then ended cancelled, its tags and records kept).
	Fork         *ForkOf `json:"fork,omitempty"`
	SupersededBy string  `json:"superseded_by,omitempty"`
}

type minorEntry struct {
	Plan   wire.PlannedMinor `json:"plan"`
	Status MinorStatus       `json:"status"`
	Result *MinorWaveResult  `json:"result,omitempty"`
	// Carried is what people gave the minor wave through the major wave (remember), or
	// what a fork's minor wave starts with (explicitPlan).
	Carried *Carried `json:"carried,omitempty"`
}

// majorState is everything a major wave must remember, small and serializable.
type majorState struct {
	Start      wire.StartWaveResult  `json:"start"`
	Evaluation []wire.EvaluateResult `json:"evaluations"`
	Plan       wire.PlanResult       `json:"plan"`
	Minor      []minorEntry          `json:"minor"`
	Updates    []wire.Update         `json:"updates"`
	Phase      string                `json:"phase"`
	Paused     bool                  `json:"paused"`
	Cancelled  bool                  `json:"cancelled"`
	Reason     string                `json:"reason,omitempty"`
	// Recovers: started since versionNeedsAttention (carried across continue-as-new).
	Recovers bool `json:"recovers,omitempty"`
	// Fixes are the security fixes patches sent (since versionPatchRunningWaves), merged or
	// refused, in the order they came.
	Fixes []MergedFix `json:"fixes,omitempty"`
	// Supersede is the fork that replaces the wave, once a patch asked (since
	// versionPatchForkWave); Reported counts a fork's re-verifying minor waves the patch
	// was told about.
	Supersede *SupersedeRequest `json:"supersede,omitempty"`
	Reported  int               `json:"reported,omitempty"`
	// Forking is a patch's request to supersede the wave that checkFork has not decided
	// yet (since versionPatchForkCheck).
	Forking *SupersedeRequest `json:"forking,omitempty"`
}

type majorWave struct {
	in      MajorWaveInput
	st      majorState
	limits  Limits
	running map[int]workflow.ChildWorkflowFuture // by minor number; looked up, never ranged
	// changed counts what is worth re-checking the schedule for; the loop remembers what it
	// has seen, so a change that arrives while it works (a local activity, an update) is
	// never lost.
	changed int
	replans int            // AddUpdate handlers in progress
	adding  []wire.Update  // their updates, for validators
	mu      workflow.Mutex // serializes handlers that re-plan
	// drain takes every signal still in its channel (before continuing as new, so none is
	// lost) and tells whether it took any.
	drain    func() bool
	childErr error
	// validated: ValidateWave has answered; refused is its refusal.
	validated bool
	refused   error
	failure   string // why the wave failed, for its reason
	// stopChildren cancels running minor waves (the Cancel signal).
	childCtx     workflow.Context
	stopChildren workflow.CancelFunc
}

// MajorWave runs a major wave: it plans minor waves from the root updates (in an activity,
// so the plan is in history), runs them as child workflows in plan order — independent ones
// concurrently up to Limits.MinorWaves — and keeps search attributes current. People steer
// it with the Pause, Resume, Resolve, Retry and AddUpdate updates and the Cancel signal.
// Security patches reach it too: a fix to merge onto its branch before the next minor
// wave (crest.merge-fix, mergeFixes), or a fork that supersedes it (crest.supersede).
func MajorWave(ctx workflow.Context, in MajorWaveInput) (MajorWaveResult, error) {
	w := &majorWave{in: in, limits: in.Limits.withDefaults(), running: map[int]workflow.ChildWorkflowFuture{}}
	if err := validateInput(in); err != nil {
		return MajorWaveResult{}, temporal.NewNonRetryableApplicationError(err.Error(), wire.ErrInvalidInput, nil)
	}
	if in.Resume != nil {
		w.st = *in.Resume
	} else {
		w.st.Updates = in.Updates
	}
	w.childCtx, w.stopChildren = workflow.WithCancel(ctx)
	w.mu = workflow.NewMutex(ctx)
	if err := w.setup(ctx); err != nil {
		return MajorWaveResult{}, err
	}
	return w.run(ctx)
}

func validateInput(in MajorWaveInput) error {
	var problems []string
	if in.Collection == "" {
		problems = append(problems, "collection: required")
	}
	if len(in.Updates) == 0 && in.Resume == nil {
		problems = append(problems, `updates: at least one {"package": …, "ref": …}`)
	}
	for i, u := range in.Updates {
		if u.Package == "" || u.Ref == "" {
			problems = append(problems, fmt.Sprintf("updates[%d]: package and ref are required", i))
		}
		if err := wire.CheckNoCredentials(u.Repo); err != nil {
			problems = append(problems, fmt.Sprintf("updates[%d] (%s): %v", i, u.Package, err))
		}
	}
	for i, ups := range in.Minors {
		if len(ups) == 0 {
			problems = append(problems, fmt.Sprintf("minors[%d]: at least one update", i))
		}
	}
	if in.Wave < 0 {
		problems = append(problems, "wave: must be positive (or 0 for the next)")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (w *majorWave) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (MajorStatus, error) { return w.status(), nil }); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryPlan, func() (wire.PlanResult, error) { return w.st.Plan, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdatePause,
		func(ctx workflow.Context, r PauseRequest) (string, error) { return w.pause(ctx, true, r), nil },
		workflow.UpdateHandlerOptions{Validator: func(PauseRequest) error {
			if w.st.Paused {
				return errors.New("already paused")
			}
			return w.active()
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResume,
		func(ctx workflow.Context, r PauseRequest) (string, error) { return w.pause(ctx, false, r), nil },
		workflow.UpdateHandlerOptions{Validator: func(PauseRequest) error {
			if !w.st.Paused {
				return errors.New("not paused")
			}
			return w.active()
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResolve,
		func(ctx workflow.Context, r ResolveRequest) (string, error) {
			req := r.policyRequest()
			return w.takeRequest(ctx, r.Minor, r.Package, &req, signalResolve, func(system string) any { r.System = system; return r })
		},
		workflow.UpdateHandlerOptions{Validator: func(r ResolveRequest) error {
			if err := w.takesRequests(r.Minor); err != nil {
				return err
			}
			return policy.CheckResolveRequest(r.policyRequest())
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRetry,
		func(ctx workflow.Context, r RetryRequest) (string, error) {
			return w.takeRequest(ctx, r.Minor, r.Package, nil, signalRetry, func(system string) any { r.System = system; return r })
		},
		workflow.UpdateHandlerOptions{Validator: func(r RetryRequest) error {
			if err := w.takesRequests(r.Minor); err != nil {
				return err
			}
			if w.needingAttention(r.Minor, r.Package) != nil {
				return nil // retry what stopped it, with or without a package and ref
			}
			return checkPackage(r.Package)
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAddUpdate, w.addUpdate,
		workflow.UpdateHandlerOptions{Validator: w.validateAddUpdate}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateValidated, func(ctx workflow.Context) (string, error) {
		if err := workflow.Await(ctx, func() bool { return w.validated || w.st.Start.WaveID != 0 }); err != nil {
			return "", err
		}
		if w.refused != nil {
			return "", refusal(w.refused)
		}
		return fmt.Sprintf("%s of %s accepted", w.in.Title, w.in.Collection), nil
	}); err != nil {
		return err
	}
	takeCancel := func() {
		w.st.Cancelled = true
		w.stopChildren()
		w.changed++
	}
	// The signals the wave takes, in the order drain tries them; take reads one with
	// recv (a blocking or a non-blocking receive) and tells whether there was one.
	signals := []struct {
		ch   workflow.ReceiveChannel
		take func(recv func(any) bool) bool
	}{
		{workflow.GetSignalChannel(ctx, signalMinorStatus), func(recv func(any) bool) bool {
			var s MinorStatus
			ok := recv(&s)
			if ok {
				if m := w.entry(s.Number); m != nil && m.Result == nil {
					m.Status = s
				}
				w.changed++
			}
			return ok
		}},
		{workflow.GetSignalChannel(ctx, SignalCancel), func(recv func(any) bool) bool {
			ok := recv(nil)
			if ok {
				takeCancel()
			}
			return ok
		}},
		{workflow.GetSignalChannel(ctx, signalMergeFix), func(recv func(any) bool) bool {
			var f MergeFixRequest
			ok := recv(&f)
			if ok {
				w.takeFix(f)
			}
			return ok
		}},
		{workflow.GetSignalChannel(ctx, signalSupersede), func(recv func(any) bool) bool {
			var r SupersedeRequest
			ok := recv(&r)
			if ok {
				w.takeSupersede(r)
			}
			return ok
		}},
	}
	w.drain = func() bool {
		took := false
		for {
			got := false
			for _, sig := range signals {
				if got = sig.take(sig.ch.ReceiveAsync); got {
					break
				}
			}
			if !got {
				return took
			}
			took = true
		}
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			for _, sig := range signals {
				sel.AddReceive(sig.ch, func(c workflow.ReceiveChannel, _ bool) {
					sig.take(func(v any) bool { c.Receive(ctx, v); return true })
				})
			}
			sel.Select(ctx)
		}
	})
	return nil
}

func (w *majorWave) active() error {
	switch w.st.Phase {
	case PhaseDone, PhaseCancelled, PhaseFailed:
		return fmt.Errorf("%s is %s", w.st.Start.Name, w.st.Phase)
	}
	return nil
}

func (w *majorWave) run(ctx workflow.Context) (MajorWaveResult, error) {
	bctx := bookkeeping(ctx)
	if w.st.Start.WaveID == 0 {
		w.st.Recovers = workflow.GetVersion(ctx, versionNeedsAttention, workflow.DefaultVersion, 1) == 1
		w.setPhase(ctx, PhasePlanning)
		if workflow.GetVersion(ctx, versionValidateBeforeStart, workflow.DefaultVersion, 1) == 1 {
			err := workflow.ExecuteActivity(bctx, wire.ActivityValidateWave, wire.ValidateWaveInput{
				Collection: w.in.Collection, BaseRef: w.in.BaseRef, Updates: w.in.Updates, Groups: w.in.Groups, Policy: w.in.Policy,
			}).Get(ctx, nil)
			w.validated, w.refused = true, err
			if err != nil {
				// Refused before anything was allocated: the person who asked (the Validated
				// update of `crest wave start`) hears why before the wave ends.
				_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
				return w.fail(ctx, refusal(err))
			}
		}
		input, _ := json.Marshal(w.in)
		if err := workflow.ExecuteActivity(bctx, wire.ActivityStartWave, wire.StartWaveInput{
			WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, Collection: w.in.Collection, Number: w.in.Wave,
			Title: w.in.Title, BaseRef: w.in.BaseRef, Input: input, Policy: w.in.Policy,
		}).Get(ctx, &w.st.Start); err != nil {
			return w.fail(ctx, err)
		}
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchWave.ValueSet(w.st.Start.Name), SearchCollection.ValueSet(w.in.Collection))
		for _, system := range w.st.Start.Collection.Systems {
			var ev wire.EvaluateResult
			if err := workflow.ExecuteActivity(bctx, wire.ActivityEvaluate, wire.EvaluateInput{
				Collection: w.in.Collection, Commit: w.st.Start.BaseCommit, System: system,
			}).Get(ctx, &ev); err != nil {
				return w.fail(ctx, err)
			}
			w.st.Evaluation = append(w.st.Evaluation, ev)
		}
		if len(w.in.Minors) > 0 {
			w.explicitPlan()
		} else if err := w.plan(ctx, w.st.Updates); err != nil {
			return w.fail(ctx, err)
		}
	}
	w.setPhase(ctx, PhaseRunning)
	seen := w.changed
	for {
		if err := w.checkFork(ctx); err != nil {
			return w.fail(ctx, err)
		}
		if err := w.mergeFixes(ctx); err != nil {
			return w.fail(ctx, err)
		}
		w.reportReverified(ctx)
		w.startReady(ctx)
		if w.childErr != nil {
			return w.fail(ctx, w.childErr)
		}
		if w.finished() {
			break
		}
		if !w.st.Recovers {
			seen = w.changed // waves started before versionNeedsAttention keep their old wakeups
		}
		if err := workflow.Await(ctx, func() bool { return w.changed != seen }); err != nil {
			return w.fail(ctx, err)
		}
		seen = w.changed // derivedPhase below reads everything up to here
		w.setPhase(ctx, w.derivedPhase())
		if len(w.running) == 0 && w.replans == 0 && workflow.AllHandlersFinished(ctx) &&
			historyFull(ctx, w.limits.WaveHistoryEvents) && !w.drain() {
			next := w.in
			st := w.st
			next.Resume = &st
			return MajorWaveResult{}, workflow.NewContinueAsNewError(ctx, MajorWave, next)
		}
	}
	if w.st.Cancelled && w.st.Supersede != nil {
		return w.superseded(ctx)
	}
	if w.st.Cancelled {
		return w.fail(ctx, temporal.NewCanceledError(w.st.Start.Name+" cancelled"))
	}
	w.setPhase(ctx, PhaseDone)
	// Let handlers in progress answer before the workflow completes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.result(), err
	}
	return w.result(), nil
}

func (w *majorWave) plan(ctx workflow.Context, updates []wire.Update) error {
	// Keep what started; re-plan what had not. New minor waves also wait for every
	// unfinished one: those were planned without the new updates.
	kept := w.st.Minor[:0:0]
	var unfinished []int
	for _, m := range w.st.Minor {
		if m.Status.Phase != PhasePending {
			kept = append(kept, m)
			if m.Status.Phase != PhaseDone {
				unfinished = append(unfinished, m.Plan.Number)
			}
		}
	}
	first := len(kept) + 1
	var plan wire.PlanResult
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityPlan, wire.PlanInput{
		Collection: w.in.Collection, WaveID: w.st.Start.WaveID, Wave: w.st.Start.Number, EvaluationID: w.st.Evaluation[0].EvaluationID,
		Updates: updates, Groups: w.in.Groups, FirstMinor: first, Policy: w.st.Start.Policy,
	}).Get(ctx, &plan); err != nil {
		return err
	}
	// Rebuild from the live list, not the copy taken before the activity: a minor wave that
	// finished meanwhile wrote its result there, and a copy would lose it (its dependents
	// would never start). Nothing pending started meanwhile: startReady waits for replans.
	kept, unfinished = w.st.Minor[:0:0], nil
	for _, m := range w.st.Minor {
		if m.Status.Phase != PhasePending {
			kept = append(kept, m)
			if m.Status.Phase != PhaseDone {
				unfinished = append(unfinished, m.Plan.Number)
			}
		}
	}
	w.st.Minor = kept
	for _, pm := range plan.Minor {
		pm.Name = fmt.Sprintf("%s-%d", w.st.Start.Name, pm.Number)
		pm.After = append(slices.Clone(unfinished), pm.After...)
		w.st.Minor = append(w.st.Minor, minorEntry{Plan: pm, Status: MinorStatus{Name: pm.Name, Number: pm.Number, Phase: PhasePending, Updates: pm.Updates}})
	}
	w.st.Plan = wire.PlanResult{}
	for _, m := range w.st.Minor {
		w.st.Plan.Minor = append(w.st.Plan.Minor, m.Plan)
		w.st.Plan.Builds += m.Plan.Builds
		w.st.Plan.CostSeconds += m.Plan.CostSeconds
	}
	return nil
}

// startReady starts every pending minor wave whose predecessors are done, up to the limit.
func (w *majorWave) startReady(ctx workflow.Context) {
	if w.st.Paused || w.st.Cancelled || w.replans > 0 {
		return
	}
	for i := range w.st.Minor {
		m := &w.st.Minor[i]
		if len(w.running) >= w.limits.MinorWaves {
			return
		}
		if m.Status.Phase != PhasePending || !w.afterDone(m.Plan) {
			continue
		}
		w.startMinor(ctx, m)
	}
}

func (w *majorWave) afterDone(p wire.PlannedMinor) bool {
	for _, n := range p.After {
		if e := w.entry(n); e != nil && e.Result == nil {
			return false
		}
	}
	return true
}

func (w *majorWave) startMinor(ctx workflow.Context, m *minorEntry) {
	var deferred []string
	for _, other := range w.st.Minor {
		if other.Plan.Number != m.Plan.Number && other.Status.Phase != PhaseDone {
			for _, u := range other.Plan.Updates {
				deferred = append(deferred, u.Package)
			}
		}
	}
	slices.Sort(deferred)
	m.Status.Phase = PhaseMerging
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:            workflow.GetInfo(ctx).WorkflowExecution.ID + "-" + fmt.Sprint(m.Plan.Number),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchWave.ValueSet(m.Plan.Name), SearchCollection.ValueSet(w.in.Collection), SearchPhase.ValueSet(PhaseMerging)),
	}
	if w.st.Recovers {
		// The Web UI's workflow list reads as waves: "wave-1-2 · libnet → update/libnet-2";
		// the minor wave's current details say where it stands.
		var ups []string
		for _, u := range m.Plan.Updates {
			ups = append(ups, u.Package+" → "+u.Ref)
		}
		opts.StaticSummary = m.Plan.Name + " · " + strings.Join(ups, ", ")
	}
	cctx := workflow.WithChildOptions(w.childCtx, opts)
	in := MinorWaveInput{
		Collection: w.in.Collection, WaveID: w.st.Start.WaveID, Wave: w.st.Start.Number, Number: m.Plan.Number,
		Name: m.Plan.Name, Branch: w.st.Start.Branch, Updates: m.Plan.Updates, BaseEvaluations: w.st.Evaluation,
		Deferred: deferred, Limits: w.limits, Paused: w.st.Paused, Policy: w.st.Start.Policy, Fixed: w.fixedFor(m.Plan.Name),
	}
	if m.Carried != nil { // a fork's minor wave standing for one its superseded wave did not finish
		in.Fixes, in.Resolves = slices.Clone(m.Carried.Fixes), slices.Clone(m.Carried.Resolves)
	}
	f := workflow.ExecuteChildWorkflow(cctx, MinorWave, in)
	number := m.Plan.Number
	w.running[number] = f
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res MinorWaveResult
		err := f.Get(ctx, &res)
		delete(w.running, number)
		e := w.entry(number)
		switch {
		case err == nil:
			e.Result = &res
			e.Status.Phase = PhaseDone
			e.Status.Tag = res.Tag
			e.Status.Summary = res.Summary
		case temporal.IsCanceledError(err):
			e.Status.Phase = PhaseCancelled
		default:
			e.Status.Phase = PhaseFailed
			if w.childErr == nil {
				w.childErr = fmt.Errorf("%s: %w", e.Plan.Name, err)
			}
		}
		w.changed++
	})
}

// finished holds when every minor wave's child has returned (its own "done" report may
// arrive a moment earlier) — or, once cancelled, when none runs.
func (w *majorWave) finished() bool {
	if w.st.Cancelled {
		return len(w.running) == 0
	}
	for _, m := range w.st.Minor {
		if m.Result == nil {
			return false
		}
	}
	return w.replans == 0
}

// derivedPhase summarizes the minor waves for the CrestPhase attribute.
func (w *majorWave) derivedPhase() string {
	if w.st.Paused {
		return PhasePaused
	}
	if w.st.Recovers {
		for _, m := range w.st.Minor {
			if m.Status.Phase == PhaseNeedsAttention {
				return PhaseNeedsAttention
			}
		}
	}
	for _, m := range w.st.Minor {
		if m.Status.Phase == PhaseWaiting {
			return PhaseWaiting
		}
	}
	return PhaseRunning
}

// reason says why the major wave is in its phase: the reasons of its minor waves that
// wait for people, or what it does.
func (w *majorWave) reason() string {
	if w.st.Phase == PhaseFailed && w.failure != "" {
		return w.failure
	}
	if r := w.st.Supersede; r != nil {
		return fmt.Sprintf("superseded by %s, its fork onto a security fix (%s): its tags and records stay; %s re-verifies its finished minor waves with the fix and carries on with the rest",
			r.Fork, r.Patch, r.Fork)
	}
	var parts []string
	for _, m := range w.st.Minor {
		switch m.Status.Phase {
		case PhaseNeedsAttention, PhaseWaiting:
			parts = append(parts, m.Plan.Name+" "+m.Status.Phase+": "+m.Status.Reason)
		}
	}
	switch {
	case len(parts) > 0:
		return strings.Join(parts, " | ")
	case w.st.Paused:
		return "paused: running builds finish, nothing new starts; next: crest wave resume " + w.st.Start.Name
	}
	for _, m := range w.st.Minor {
		if m.Status.Phase != PhasePending && m.Status.Phase != PhaseDone && m.Status.Phase != PhaseCancelled {
			return m.Plan.Name + " " + m.Status.Phase + ": " + m.Status.Reason
		}
	}
	return ""
}

// details is the Web UI's markdown for the major wave: one line per minor wave.
func (w *majorWave) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** · %s", w.st.Start.Name, w.st.Phase)
	if w.in.Title != "" {
		fmt.Fprintf(&b, " · %s", w.in.Title)
	}
	b.WriteString("\n")
	for _, m := range w.st.Minor {
		c := m.Status.Summary.Counts
		var ups []string
		for _, u := range m.Plan.Updates {
			ups = append(ups, u.Package)
		}
		fmt.Fprintf(&b, "\n- %s (%s) · %s", m.Plan.Name, strings.Join(ups, ", "), m.Status.Phase)
		if c.Total > 0 {
			fmt.Fprintf(&b, " · %d/%d settled", c.Total-c.Pending-c.Unresolved, c.Total)
		}
		if m.Status.Tag != "" {
			fmt.Fprintf(&b, " · tag %s", m.Status.Tag)
		}
		if m.Status.Reason != "" && m.Status.Phase != PhaseDone {
			fmt.Fprintf(&b, "\n  %s", m.Status.Reason)
		}
	}
	for _, f := range w.st.Fixes {
		fmt.Fprintf(&b, "\n- security fix of %s (%s, %s)", f.Package, f.Ref, f.Patch)
		switch {
		case f.Reason != "":
			fmt.Fprintf(&b, " · refused: %s", f.Reason)
		case f.Commit != "" && f.Minor != "":
			fmt.Fprintf(&b, " · merged · %s rebuilds its dependents", f.Minor)
		case f.Commit != "":
			fmt.Fprintf(&b, " · merged · the next minor wave rebuilds its dependents")
		default:
			b.WriteString(" · merging")
		}
	}
	return b.String()
}

func (w *majorWave) setPhase(ctx workflow.Context, phase string) {
	changed := w.st.Phase != phase
	reason := ""
	if w.st.Recovers {
		w.st.Phase = phase
		reason = w.reason()
		workflow.SetCurrentDetails(ctx, w.details())
	}
	if !changed && reason == w.st.Reason {
		return
	}
	w.st.Phase, w.st.Reason = phase, reason
	if changed {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchPhase.ValueSet(phase))
	}
	if w.st.Start.WaveID != 0 {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Second})
		_ = workflow.ExecuteLocalActivity(lctx, wire.ActivityRecordState, wire.StateInput{
			WaveID: w.st.Start.WaveID, Wave: w.st.Start.Name, State: phase, Reason: reason,
			Key: fmt.Sprintf("%s/phase/%d/%s", w.st.Start.Name, workflow.GetInfo(ctx).GetCurrentHistoryLength(), phase),
		}).Get(ctx, nil)
	}
}

func (w *majorWave) fail(ctx workflow.Context, err error) (MajorWaveResult, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx) // record the end even when cancelled
	if w.st.Recovers && !temporal.IsCanceledError(err) {
		w.failure = errorText(err)
	}
	if temporal.IsCanceledError(err) {
		w.setPhase(ctx, PhaseCancelled)
	} else {
		w.setPhase(ctx, PhaseFailed)
	}
	return w.result(), err
}

func (w *majorWave) result() MajorWaveResult {
	r := MajorWaveResult{Name: w.st.Start.Name, Phase: w.st.Phase}
	for _, m := range w.st.Minor {
		if m.Result != nil {
			r.Minor = append(r.Minor, *m.Result)
			r.Tags = append(r.Tags, m.Result.Tag)
		}
	}
	return r
}

func (w *majorWave) status() MajorStatus {
	s := MajorStatus{Name: w.st.Start.Name, Collection: w.in.Collection, Title: w.in.Title, Phase: w.st.Phase,
		Paused: w.st.Paused, Branch: w.st.Start.Branch, Reason: w.st.Reason}
	for _, m := range w.st.Minor {
		s.Minor = append(s.Minor, m.Status)
	}
	s.Fixes = w.st.Fixes
	s.Fork = w.in.Fork
	if w.st.Supersede != nil {
		s.SupersededBy = w.st.Supersede.Fork
	}
	return s
}

func (w *majorWave) entry(number int) *minorEntry {
	for i := range w.st.Minor {
		if w.st.Minor[i].Plan.Number == number {
			return &w.st.Minor[i]
		}
	}
	return nil
}

// minorOf finds the running minor wave a request is about: the one named, or the one where
// the package failed.
func (w *majorWave) minorOf(number int, pkg string) (*minorEntry, error) {
	if err := w.active(); err != nil {
		return nil, err
	}
	if number != 0 {
		m := w.entry(number)
		if m == nil {
			return nil, fmt.Errorf("minor: %s has no minor wave %d", w.st.Start.Name, number)
		}
		if _, ok := w.running[number]; !ok {
			return nil, fmt.Errorf("minor: %s is %s, not running", m.Plan.Name, m.Status.Phase)
		}
		return m, nil
	}
	for i := range w.st.Minor {
		m := &w.st.Minor[i]
		if _, ok := w.running[m.Plan.Number]; !ok {
			continue
		}
		if _, failed := failureOf(m.Status.Summary, pkg); failed {
			return m, nil
		}
	}
	var waiting []string
	for _, m := range w.st.Minor {
		for _, f := range m.Status.Summary.Failures {
			if f.Resolution == "" && m.Status.Phase == PhaseWaiting {
				waiting = append(waiting, m.Plan.Name+":"+f.Package)
			}
		}
	}
	if pkg == "" {
		return nil, errors.New("package: required")
	}
	if len(waiting) == 0 {
		return nil, fmt.Errorf("package %q has not failed in a running minor wave (nothing is waiting)", pkg)
	}
	return nil, fmt.Errorf("package %q has not failed in a running minor wave; waiting: %s", pkg, strings.Join(waiting, ", "))
}

// takesRequests tells whether the major wave may take a person's request about a failure
// at all (minor: the minor wave named, 0 for any); which packages is policy's rule, applied
// by takeRequest.
func (w *majorWave) takesRequests(minor int) error {
	if err := w.active(); err != nil {
		return err
	}
	if w.st.Start.WaveID == 0 {
		return errors.New("the wave is still starting: nothing is recorded yet")
	}
	if minor != 0 {
		m := w.entry(minor)
		if m == nil {
			return fmt.Errorf("minor: %s has no minor wave %d", w.st.Start.Name, minor)
		}
		if _, ok := w.running[minor]; !ok {
			return fmt.Errorf("minor: %s is %s, not running", m.Plan.Name, m.Status.Phase)
		}
	}
	return nil
}

// takeRequest checks a Resolve (resolve set) or Retry against the recorded results of the
// running minor waves (policy's rule, in an activity) and hands it to the minor wave where
// the failure is recorded, naming the system. msg builds the request to forward.
func (w *majorWave) takeRequest(ctx workflow.Context, minor int, pkg string, resolve *policy.ResolveRequest, signal string, msg func(system string) any) (string, error) {
	if workflow.GetVersion(ctx, versionSettleAsRecorded, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return w.forward(ctx, minor, pkg, signal, msg(""))
	}
	if m := w.needingAttention(minor, pkg); resolve == nil && m != nil {
		f, ok := w.running[m.Plan.Number]
		if !ok {
			return "", fmt.Errorf("%s is no longer running", m.Plan.Name)
		}
		name, number, attention, req := m.Plan.Name, m.Plan.Number, m.Status.Attention, msg("")
		if err := f.SignalChildWorkflow(ctx, signal, req).Get(ctx, nil); err != nil {
			return "", err
		}
		w.remember(number, req)
		return fmt.Sprintf("%s: trying again after %q", name, attention), nil
	}
	at, err := checkRequest(ctx, wire.CheckRequestInput{WaveID: w.st.Start.WaveID, Minor: minor, Package: pkg, Resolve: resolve})
	if err != nil {
		return "", err
	}
	f, ok := w.running[at.Minor]
	if !ok {
		return "", fmt.Errorf("%s is no longer running", at.Name)
	}
	req := msg(at.System)
	if err := f.SignalChildWorkflow(ctx, signal, req).Get(ctx, nil); err != nil {
		return "", err
	}
	w.remember(at.Minor, req)
	return fmt.Sprintf("%s: %s request for %s accepted", at.Name, strings.TrimPrefix(signal, "crest."), pkg), nil
}

// needingAttention finds the running minor wave in needs-attention that a retry is about:
// the one named (minor), or the one whose updates include pkg, or the first one when pkg
// is empty. Waves started before versionNeedsAttention have none.
func (w *majorWave) needingAttention(minor int, pkg string) *minorEntry {
	if !w.st.Recovers {
		return nil
	}
	for i := range w.st.Minor {
		m := &w.st.Minor[i]
		if _, ok := w.running[m.Plan.Number]; !ok || m.Status.Phase != PhaseNeedsAttention {
			continue
		}
		if minor != 0 {
			if m.Plan.Number == minor {
				return m
			}
			continue
		}
		if pkg == "" || slices.ContainsFunc(m.Plan.Updates, func(u wire.Update) bool { return u.Package == pkg }) {
			return m
		}
	}
	return nil
}

// forward hands a validated request to the minor wave that owns it (waves started before
// versionSettleAsRecorded).
func (w *majorWave) forward(ctx workflow.Context, number int, pkg, signal string, req any) (string, error) {
	m, err := w.minorOf(number, pkg)
	if err != nil {
		return "", err
	}
	f, ok := w.running[m.Plan.Number]
	if !ok {
		return "", fmt.Errorf("%s is no longer running", m.Plan.Name)
	}
	if err := f.SignalChildWorkflow(ctx, signal, req).Get(ctx, nil); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: %s request for %s accepted", m.Plan.Name, strings.TrimPrefix(signal, "crest."), pkg), nil
}

func (w *majorWave) pause(ctx workflow.Context, paused bool, r PauseRequest) string {
	w.st.Paused = paused
	w.changed++
	for i := range w.st.Minor {
		if f, ok := w.running[w.st.Minor[i].Plan.Number]; ok {
			f.SignalChildWorkflow(ctx, signalPause, paused)
			// Shown at once, not when the minor wave next reports.
			w.st.Minor[i].Status.Paused = paused
		}
	}
	if paused {
		return fmt.Sprintf("%s paused: running builds finish, nothing new starts", w.st.Start.Name)
	}
	return fmt.Sprintf("%s resumed", w.st.Start.Name)
}

func (w *majorWave) validateAddUpdate(r AddUpdateRequest) error {
	if err := w.active(); err != nil {
		return err
	}
	if r.Package == "" || r.Ref == "" {
		return errors.New("package and ref are required")
	}
	if f := cmp.Or(w.st.Supersede, w.st.Forking); f != nil {
		// Its fork takes over the plan as it stands: an update added now would be lost.
		return fmt.Errorf("%s is being superseded by %s, its fork onto a security fix; add the update there", w.st.Start.Name, f.Fork)
	}
	for _, u := range w.st.Updates {
		if u.Package == r.Package && w.needingAttention(0, r.Package) == nil {
			return fmt.Errorf("package %q is already updated in %s (ref %s)", r.Package, w.st.Start.Name, u.Ref)
		}
	}
	for _, u := range w.adding {
		if u.Package == r.Package {
			return fmt.Errorf("package %q is being added to %s (ref %s)", r.Package, w.st.Start.Name, u.Ref)
		}
	}
	if w.st.Start.WaveID == 0 {
		return errors.New("the wave is still starting; try again in a moment")
	}
	return nil
}

// addUpdate re-plans the minor waves that have not started with the new update.
func (w *majorWave) addUpdate(ctx workflow.Context, r AddUpdateRequest) (string, error) {
	if m := w.needingAttention(0, r.Package); m != nil {
		// Another ref for an update whose minor wave could not merge or evaluate it.
		name, number := m.Plan.Name, m.Plan.Number
		f, ok := w.running[number]
		if !ok {
			return "", fmt.Errorf("%s is no longer running", name)
		}
		if err := f.SignalChildWorkflow(ctx, signalRetry, RetryRequest{Package: r.Package, Ref: r.Ref, By: r.By}).Get(ctx, nil); err != nil {
			return "", err
		}
		for i := range w.st.Updates {
			if w.st.Updates[i].Package == r.Package {
				w.st.Updates[i].Ref, w.st.Updates[i].Repo = r.Ref, ""
			}
		}
		if e := w.entry(number); e != nil { // looked up again: the list may have changed meanwhile
			for i := range e.Plan.Updates {
				if e.Plan.Updates[i].Package == r.Package {
					e.Plan.Updates[i].Ref, e.Plan.Updates[i].Repo = r.Ref, ""
				}
			}
		}
		return fmt.Sprintf("%s: %s now updates to %s; trying again", name, r.Package, r.Ref), nil
	}
	// Serialized: each re-plan starts from what the previous one decided. The request is
	// visible to validators at once, so a second AddUpdate of the same package is refused.
	add := wire.Update{Package: r.Package, Ref: r.Ref}
	w.adding = append(w.adding, add)
	w.replans++
	defer func() {
		w.replans--
		w.changed++
		w.adding = slices.DeleteFunc(w.adding, func(u wire.Update) bool { return u == add })
	}()
	if err := w.mu.Lock(ctx); err != nil {
		return "", err
	}
	defer w.mu.Unlock()
	pending := []wire.Update{add}
	for _, m := range w.st.Minor {
		if m.Status.Phase == PhasePending {
			pending = append(pending, m.Plan.Updates...)
		}
	}
	if err := w.plan(ctx, pending); err != nil {
		return "", err
	}
	w.st.Updates = append(w.st.Updates, pending[0])
	var names []string
	for _, m := range w.st.Minor {
		if m.Status.Phase == PhasePending {
			names = append(names, m.Plan.Name)
		}
	}
	return fmt.Sprintf("%s: %s added; pending minor waves now %s", w.st.Start.Name, r.Package, strings.Join(names, ", ")), nil
}

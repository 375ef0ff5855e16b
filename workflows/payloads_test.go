package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// shape is what a message carries: its arguments in order, and its result (nil: none).
type shape struct {
	args   []reflect.Type
	result reflect.Type
}

func typ[T any]() reflect.Type { return reflect.TypeFor[T]() }

func one[In, Out any]() shape { return shape{args: []reflect.Type{typ[In]()}, result: typ[Out]()} }

func errorOnly[In any]() shape { return shape{args: []reflect.Type{typ[In]()}} }

// activityShapes are today's payload types of every activity, by name. A new activity
// is added here (the test fails until it is), and recorded histories must decode into these.
var activityShapes = map[string]shape{
	wire.ActivityValidateWave:        errorOnly[wire.ValidateWaveInput](),
	wire.ActivityStartWave:           one[wire.StartWaveInput, wire.StartWaveResult](),
	wire.ActivityRegisterCollection:  errorOnly[wire.Collection](),
	wire.ActivityLoadCollection:      one[string, wire.Collection](),
	wire.ActivityEvaluate:            one[wire.EvaluateInput, wire.EvaluateResult](),
	wire.ActivityPlan:                one[wire.PlanInput, wire.PlanResult](),
	wire.ActivityMergeRefs:           one[wire.MergeInput, string](),
	wire.ActivityStartMinorWave:      one[wire.StartMinorInput, int64](),
	wire.ActivityRecordState:         errorOnly[wire.StateInput](),
	wire.ActivityPrepareRound:        one[wire.RoundInput, wire.RoundLayout](),
	wire.ActivityTakeReady:           one[wire.TakeReadyInput, wire.ReadyTasks](),
	wire.ActivityTakeShard:           one[wire.ShardInput, wire.ShardTasks](),
	wire.ActivityBuildPackage:        one[wire.BuildInput, wire.BuildResult](),
	wire.ActivityOpenSlots:           one[wire.OpenSlotsInput, wire.SlotPlan](),
	wire.ActivityBuildSlot:           one[wire.SlotInput, wire.SlotResult](),
	wire.ActivityStopSlots:           errorOnly[wire.StopSlotsInput](),
	wire.ActivitySummarize:           one[wire.SummaryInput, wire.Summary](),
	wire.ActivityCheckRequest:        one[wire.CheckRequestInput, wire.CheckRequestResult](),
	wire.ActivityResolve:             one[wire.ResolveInput, int](),
	wire.ActivityReviewFailures:      one[wire.ReviewInput, []wire.Notice](),
	wire.ActivityReview:              one[wire.ReviewInput, wire.ReviewResult](),
	wire.ActivityRecordDecision:      errorOnly[wire.DecisionInput](),
	wire.ActivityTagMinorWave:        one[wire.TagInput, wire.TagResult](),
	wire.ActivityTagUnfinished:       one[wire.TagInput, wire.TagResult](),
	wire.ActivityValidatePatch:       one[wire.ValidatePatchInput, wire.ValidatePatchResult](),
	wire.ActivityStartPatch:          one[wire.StartPatchInput, int64](),
	wire.ActivityPreparePatchTag:     one[wire.PreparePatchTagInput, wire.PreparedPatchTag](),
	wire.ActivityCheckGrafts:         one[wire.GraftsInput, wire.GraftFacts](),
	wire.ActivityTagGrafts:           one[wire.GraftsInput, wire.SecurityTagResult](),
	wire.ActivityRecordPatchState:    errorOnly[wire.PatchStateInput](),
	wire.ActivityPreparePatchRebuild: one[wire.PatchRebuildInput, wire.PatchRebuildLayout](),
	wire.ActivityTagRebuild:          one[wire.PatchRebuildInput, wire.SecurityTagResult](),
	wire.ActivityStartDuplicateWave:  one[wire.GraftsInput, wire.DuplicateWave](),
	wire.ActivityTagDuplicateWave:    one[wire.DuplicateTagInput, wire.SecurityTagResult](),
	wire.ActivityCommitGrafts:        one[wire.GraftsInput, wire.GraftedCommit](),
	wire.ActivityRunSystemTests:      one[wire.SystemTestsInput, wire.SystemTestsResult](),
	wire.ActivityPatchRunningWaves:   one[wire.RunningWavesInput, []wire.RunningWave](),
	wire.ActivityRecordPatchMerge:    errorOnly[wire.PatchMergeInput](),
	// The merge queue.
	wire.ActivityQueueSubmit:       one[wire.QueueSubmitInput, wire.QueueSubmitResult](),
	wire.ActivityQueueWithdraw:     errorOnly[wire.QueueWithdrawInput](),
	wire.ActivityQueueLane:         one[wire.QueueLaneInput, wire.QueueLaneResult](),
	wire.ActivityQueueCandidate:    one[wire.QueueCandidateInput, wire.QueueCandidateResult](),
	wire.ActivityQueueStartBatch:   one[wire.QueueBatchInput, int64](),
	wire.ActivityQueuePrepareBuild: one[wire.QueueBuildInput, wire.QueueBuildLayout](),
	wire.ActivityQueueProbeDone:    one[wire.QueueProbeInput, []string](),
	wire.ActivityQueueFastForward:  errorOnly[wire.QueueFastForwardInput](),
	wire.ActivityQueueFinishBatch:  errorOnly[wire.QueueFinishInput](),
	// The intake of pull requests.
	wire.ActivityQueuePulls:        one[wire.QueuePullsInput, wire.QueuePullsResult](),
	wire.ActivityQueueSubmitPull:   one[wire.QueueSubmitPullInput, wire.QueueSubmitPullResult](),
	wire.ActivityQueueWithdrawPull: one[wire.QueueWithdrawPullInput, string](),
	wire.ActivityQueueReport:       one[wire.QueueReportInput, wire.QueueReportResult](),
}

// workflowShapes are the inputs and results of Crest's workflows.
var workflowShapes = map[string]shape{
	"MajorWave":     one[MajorWaveInput, MajorWaveResult](),
	"MinorWave":     one[MinorWaveInput, MinorWaveResult](),
	"BuildShard":    one[ShardInput, ShardResult](),
	"BuildSet":      one[BuildSetInput, BuildSetResult](),
	"SecurityPatch": one[SecurityPatchInput, SecurityPatchResult](),
	"MergeQueue":    errorOnly[MergeQueueInput](),
	"QueueIntake":   errorOnly[QueueIntakeInput](),
	"WaveLaneBatch": errorOnly[WaveLaneBatchInput](),
}

// updateShapes are the requests and answers of updates.
var updateShapes = map[string]shape{
	UpdatePause:     one[PauseRequest, string](),
	UpdateResume:    one[PauseRequest, string](),
	UpdateResolve:   one[ResolveRequest, string](),
	UpdateRetry:     one[RetryRequest, string](),
	UpdateAddUpdate: one[AddUpdateRequest, string](),
	UpdateValidated: {result: typ[string]()},
	UpdateSubmit:    one[SubmitRequest, SubmitResult](),
	UpdateWithdraw:  errorOnly[WithdrawRequest](),
}

// signalShapes are the payloads of signals; a nil type carries nothing (null).
var signalShapes = map[string][]reflect.Type{
	SignalCancel:      {nil},
	signalMinorStatus: {typ[MinorStatus]()},
	signalResolve:     {typ[ResolveRequest]()},
	signalRetry:       {typ[RetryRequest]()},
	signalPause:       {typ[bool]()},
	signalMergeFix:    {typ[MergeFixRequest]()},
	signalFixMerged:   {typ[MergeFixResult]()},
	signalSupersede:   {typ[SupersedeRequest]()},
	signalSuperseded:  {typ[ForkPlan]()},
	signalReverified:  {typ[Reverified]()},
	SignalPoll:        {nil},
	SignalWaveBuilt:   {typ[WaveLaneOutcome]()},
}

// failureDetails are the details activity errors of a type carry.
var failureDetails = map[string][]reflect.Type{
	wire.ErrBuildFailed: {typ[wire.BuildFailureDetails]()},
	wire.ErrTestFailed:  {typ[wire.BuildFailureDetails]()},
}

// TestPayloadShapesAreToday holds the maps above to the code: every activity the worker
// registers is in activityShapes with its method's own types, and every workflow with its
// function's.
func TestPayloadShapesAreToday(t *testing.T) {
	t.Parallel()
	require.ElementsMatch(t, wire.ActivityNames, slices.Collect(func(yield func(string) bool) {
		for name := range activityShapes {
			if !yield(name) {
				return
			}
		}
	}))
	acts := reflect.TypeFor[*activities.Activities]()
	for name, s := range activityShapes {
		m, ok := acts.MethodByName(name)
		require.True(t, ok, name)
		requireSignature(t, name, m.Type, 2, s) // receiver, context
	}
	for name, fn := range map[string]any{"MajorWave": MajorWave, "MinorWave": MinorWave, "BuildShard": BuildShard, "BuildSet": BuildSet, "MergeQueue": MergeQueue, "QueueIntake": QueueIntake, "WaveLaneBatch": WaveLaneBatch} {
		requireSignature(t, name, reflect.TypeOf(fn), 1, workflowShapes[name]) // workflow.Context
	}
}

func requireSignature(t *testing.T, name string, fn reflect.Type, skip int, s shape) {
	t.Helper()
	var in []reflect.Type
	for i := skip; i < fn.NumIn(); i++ {
		in = append(in, fn.In(i))
	}
	require.Equal(t, s.args, in, "arguments of %s", name)
	var result reflect.Type
	if fn.NumOut() == 2 {
		result = fn.Out(0)
	}
	require.Equal(t, s.result, result, "result of %s", name)
}

// TestRecordedPayloadsDecode proves payloads are add-only: every activity input and
// result, workflow input and result, signal, update and failure detail recorded in
// testdata/histories decodes into today's types with unknown fields refused, so a field
// removed or renamed since a history was recorded fails here — an activity in flight
// during an upgrade would have lost it. Unknown activity, workflow, signal or update names
// fail too: add them to the maps above.
func TestRecordedPayloadsDecode(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/histories/*.json")
	require.NoError(t, err)
	more, err := filepath.Glob("../testdata/histories/*/*.json")
	require.NoError(t, err)
	files = append(files, more...)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, "../testdata/histories/"), func(t *testing.T) {
			t.Parallel()
			fh, err := os.Open(f)
			require.NoError(t, err)
			defer fh.Close()
			h, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
			require.NoError(t, err)
			decoded := 0
			check := func(ev int64, what string, types []reflect.Type, ps *commonpb.Payloads) {
				t.Helper()
				n, err := decodePayloads(types, ps.GetPayloads())
				require.NoError(t, err, "event %d: %s", ev, what)
				decoded += n
			}
			var self string
			activityOf := map[int64]string{} // scheduled event → activity name
			updateOf := map[int64]string{}   // accepted event → update name
			for _, ev := range h.Events {
				id := ev.GetEventId()
				switch {
				case ev.GetWorkflowExecutionStartedEventAttributes() != nil:
					a := ev.GetWorkflowExecutionStartedEventAttributes()
					self = a.GetWorkflowType().GetName()
					check(id, self+" input", workflowShape(t, self).args, a.GetInput())
				case ev.GetWorkflowExecutionCompletedEventAttributes() != nil:
					check(id, self+" result", results(workflowShape(t, self)), ev.GetWorkflowExecutionCompletedEventAttributes().GetResult())
				case ev.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil:
					a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes()
					name := a.GetWorkflowType().GetName()
					check(id, name+" input", workflowShape(t, name).args, a.GetInput())
				case ev.GetStartChildWorkflowExecutionInitiatedEventAttributes() != nil:
					a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes()
					name := a.GetWorkflowType().GetName()
					check(id, name+" input", workflowShape(t, name).args, a.GetInput())
				case ev.GetChildWorkflowExecutionCompletedEventAttributes() != nil:
					a := ev.GetChildWorkflowExecutionCompletedEventAttributes()
					name := a.GetWorkflowType().GetName()
					check(id, name+" result", results(workflowShape(t, name)), a.GetResult())
				case ev.GetActivityTaskScheduledEventAttributes() != nil:
					a := ev.GetActivityTaskScheduledEventAttributes()
					name := a.GetActivityType().GetName()
					activityOf[id] = name
					check(id, name+" input", activityShape(t, name).args, a.GetInput())
				case ev.GetActivityTaskCompletedEventAttributes() != nil:
					a := ev.GetActivityTaskCompletedEventAttributes()
					name := activityOf[a.GetScheduledEventId()]
					check(id, name+" result", results(activityShape(t, name)), a.GetResult())
				case ev.GetActivityTaskFailedEventAttributes() != nil:
					info := ev.GetActivityTaskFailedEventAttributes().GetFailure().GetApplicationFailureInfo()
					check(id, info.GetType()+" details", failureDetails[info.GetType()], info.GetDetails())
				case ev.GetWorkflowExecutionSignaledEventAttributes() != nil:
					a := ev.GetWorkflowExecutionSignaledEventAttributes()
					check(id, a.GetSignalName()+" signal", signalShape(t, a.GetSignalName()), a.GetInput())
				case ev.GetSignalExternalWorkflowExecutionInitiatedEventAttributes() != nil:
					a := ev.GetSignalExternalWorkflowExecutionInitiatedEventAttributes()
					check(id, a.GetSignalName()+" signal", signalShape(t, a.GetSignalName()), a.GetInput())
				case ev.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil:
					in := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput()
					updateOf[id] = in.GetName()
					check(id, in.GetName()+" update", updateShape(t, in.GetName()).args, in.GetArgs())
				case ev.GetWorkflowExecutionUpdateCompletedEventAttributes() != nil:
					a := ev.GetWorkflowExecutionUpdateCompletedEventAttributes()
					name := updateOf[a.GetAcceptedEventId()]
					check(id, name+" answer", results(updateShape(t, name)), a.GetOutcome().GetSuccess())
				case ev.GetMarkerRecordedEventAttributes() != nil:
					a := ev.GetMarkerRecordedEventAttributes()
					switch a.GetMarkerName() {
					case "LocalActivity": // the SDK's own record, then the result
						var marker struct{ ActivityType string }
						data := a.GetDetails()["data"].GetPayloads()
						require.Len(t, data, 1)
						require.NoError(t, json.Unmarshal(data[0].GetData(), &marker))
						check(id, marker.ActivityType+" result", results(activityShape(t, marker.ActivityType)), a.GetDetails()["result"])
					case "SideEffect": // a policy decision: the strategy of a patch, else grace.go's
						decision := typ[policy.Decision]()
						if self == "SecurityPatch" {
							decision = typ[policy.StrategyDecision]()
						}
						check(id, "side effect", []reflect.Type{decision}, a.GetDetails()["data"])
					}
				}
			}
			require.Positive(t, decoded, "no payloads decoded: is the history complete?")
		})
	}
}

func results(s shape) []reflect.Type { return []reflect.Type{s.result} }

func activityShape(t *testing.T, name string) shape {
	t.Helper()
	s, ok := activityShapes[name]
	require.True(t, ok, "activity %q is not in activityShapes", name)
	return s
}

func workflowShape(t *testing.T, name string) shape {
	t.Helper()
	s, ok := workflowShapes[name]
	require.True(t, ok, "workflow %q is not in workflowShapes", name)
	return s
}

func updateShape(t *testing.T, name string) shape {
	t.Helper()
	s, ok := updateShapes[name]
	require.True(t, ok, "update %q is not in updateShapes", name)
	return s
}

func signalShape(t *testing.T, name string) []reflect.Type {
	t.Helper()
	s, ok := signalShapes[name]
	require.True(t, ok, "signal %q is not in signalShapes", name)
	return s
}

// decodePayloads decodes each payload into its type, refusing fields the type does not
// have, and says how many held a value. Fewer payloads than types are the zero values the
// SDK would give; more are an error, as is a value where a nil type expects none.
func decodePayloads(types []reflect.Type, ps []*commonpb.Payload) (int, error) {
	if len(ps) > len(types) {
		return 0, fmt.Errorf("%d payloads, at most %d expected", len(ps), len(types))
	}
	n := 0
	for i, p := range ps {
		switch enc := string(p.GetMetadata()["encoding"]); enc {
		case "binary/null":
			continue
		case "json/plain":
		default:
			return n, fmt.Errorf("payload %d: encoding %q", i, enc)
		}
		if types[i] == nil {
			return n, fmt.Errorf("payload %d carries %s where nothing is expected", i, p.GetData())
		}
		dec := json.NewDecoder(bytes.NewReader(p.GetData()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(types[i]).Interface()); err != nil {
			return n, fmt.Errorf("payload %d into %s: %w", i, types[i], err)
		}
		if dec.More() {
			return n, errors.New("trailing data")
		}
		n++
	}
	return n, nil
}

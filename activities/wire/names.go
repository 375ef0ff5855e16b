package wire

// Activity names, as workflows call them (workflow.ExecuteActivity by name) and as the
// worker registers them: the method names of activities.Activities. Histories record
// them, so a name never changes; a new activity gets a new name.
const (
	ActivityValidateWave       = "ValidateWave"       // ValidateWaveInput → error only
	ActivityStartWave          = "StartWave"          // StartWaveInput → StartWaveResult
	ActivityRegisterCollection = "RegisterCollection" // Collection → error only
	ActivityLoadCollection     = "LoadCollection"     // collection name → Collection
	ActivityEvaluate           = "Evaluate"           // EvaluateInput → EvaluateResult
	ActivityPlan               = "Plan"               // PlanInput → PlanResult
	ActivityMergeRefs          = "MergeRefs"          // MergeInput → the merged commit
	ActivityStartMinorWave     = "StartMinorWave"     // StartMinorInput → the minor wave's ID
	ActivityRecordState        = "RecordState"        // StateInput → error only (local)
	ActivityPrepareRound       = "PrepareRound"       // RoundInput → RoundLayout
	ActivityTakeReady          = "TakeReady"          // TakeReadyInput → ReadyTasks
	ActivityTakeShard          = "TakeShard"          // ShardInput → ShardTasks
	ActivityBuildPackage       = "BuildPackage"       // BuildInput → BuildResult (builder queues)
	ActivityOpenSlots          = "OpenSlots"          // OpenSlotsInput → SlotPlan
	ActivityBuildSlot          = "BuildSlot"          // SlotInput → SlotResult (builder queues)
	ActivityStopSlots          = "StopSlots"          // StopSlotsInput → error only
	ActivitySummarize          = "Summarize"          // SummaryInput → Summary
	ActivityCheckRequest       = "CheckRequest"       // CheckRequestInput → CheckRequestResult
	ActivityResolve            = "Resolve"            // ResolveInput → packages settled
	ActivityReviewFailures     = "ReviewFailures"     // ReviewInput → []Notice (waves before policy-review)
	ActivityReview             = "Review"             // ReviewInput → ReviewResult
	ActivityRecordDecision     = "RecordDecision"     // DecisionInput → error only (local)
	ActivityTagMinorWave       = "TagMinorWave"       // TagInput → TagResult
	ActivityTagUnfinished      = "TagUnfinished"      // TagInput → TagResult

	// Security patches.
	ActivityValidatePatch    = "ValidatePatch"    // ValidatePatchInput → ValidatePatchResult
	ActivityStartPatch       = "StartPatch"       // StartPatchInput → the patch's ID
	ActivityPreparePatchTag  = "PreparePatchTag"  // PreparePatchTagInput → PreparedPatchTag
	ActivityCheckGrafts      = "CheckGrafts"      // GraftsInput → GraftFacts
	ActivityTagGrafts        = "TagGrafts"        // GraftsInput → SecurityTagResult
	ActivityRecordPatchState = "RecordPatchState" // PatchStateInput → error only
	// System tests of grafts.
	ActivityCommitGrafts   = "CommitGrafts"   // GraftsInput → GraftedCommit
	ActivityRunSystemTests = "RunSystemTests" // SystemTestsInput → SystemTestsResult (builder queues)
	// The rebuild strategy.
	ActivityPreparePatchRebuild = "PreparePatchRebuild" // PatchRebuildInput → PatchRebuildLayout
	ActivityTagRebuild          = "TagRebuild"          // PatchRebuildInput → SecurityTagResult
	// The duplicate-wave strategy.
	ActivityStartDuplicateWave = "StartDuplicateWave" // GraftsInput → DuplicateWave
	ActivityTagDuplicateWave   = "TagDuplicateWave"   // DuplicateTagInput → SecurityTagResult
	// Running waves a patch reaches.
	ActivityPatchRunningWaves = "PatchRunningWaves" // RunningWavesInput → []RunningWave
	ActivityRecordPatchMerge  = "RecordPatchMerge"  // PatchMergeInput → error only
)

// ActivityNames lists every activity name, for the tests that hold the worker's
// registration and recorded histories to them.
var ActivityNames = []string{
	ActivityValidateWave, ActivityStartWave, ActivityRegisterCollection, ActivityLoadCollection,
	ActivityEvaluate, ActivityPlan, ActivityMergeRefs, ActivityStartMinorWave, ActivityRecordState,
	ActivityPrepareRound, ActivityTakeReady, ActivityTakeShard, ActivityBuildPackage,
	ActivityOpenSlots, ActivityBuildSlot, ActivityStopSlots,
	ActivitySummarize, ActivityCheckRequest, ActivityResolve, ActivityReviewFailures,
	ActivityReview, ActivityRecordDecision, ActivityTagMinorWave, ActivityTagUnfinished,
	ActivityValidatePatch, ActivityStartPatch, ActivityPreparePatchTag, ActivityCheckGrafts,
	ActivityTagGrafts, ActivityRecordPatchState, ActivityPreparePatchRebuild, ActivityTagRebuild,
	ActivityStartDuplicateWave, ActivityTagDuplicateWave, ActivityCommitGrafts, ActivityRunSystemTests,
	ActivityPatchRunningWaves, ActivityRecordPatchMerge,
	// The merge queue (queue.go).
	ActivityQueueSubmit, ActivityQueueWithdraw, ActivityQueueLane, ActivityQueueCandidate, ActivityQueueStartBatch,
	ActivityQueuePrepareBuild, ActivityQueueProbeDone, ActivityQueueFastForward, ActivityQueueFinishBatch,
	ActivityQueuePulls, ActivityQueueSubmitPull, ActivityQueueWithdrawPull, ActivityQueueReport,
}

package workflows_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/crestwaves/crest/workflows"
)

// historiesDir holds recorded histories of real waves, one JSON file per workflow run,
// named after the workflow ID ("/" written "~"; "@runN" when it continued as new). Replaying
// them proves a change to workflow code does not break waves already running: such changes
// go behind workflow.GetVersion.
//
// The top level holds the first recording (the libcore 2 + libnet 2 wave of
// TestMajorWaveEndToEnd), each subfolder the same wave recorded with the code of the
// GetVersion change it is named after (settle-as-recorded, needs-attention, dispatch), and
// scenarios/ the waves of scenarios_e2e_test.go and TestPolicyAndIssuesEndToEnd (happy
// path, AddUpdate, Pause/Resume, Cancel, policy mark-broken, retry with a fix, forced
// continue-as-new), recorded with the code of Limits.WaveHistoryEvents; security-patch/
// holds SecurityPatch runs (see requiredHistories).
//
// When: after every change to workflow code that goes behind workflow.GetVersion, record
// all of them again with the new code, into a new subfolder named after the change ID, and
// add the new files to requiredHistories. Older folders stay: waves started before the
// change must still replay. How (real Nix, Postgres and git, as the end-to-end tests run):
//
//	CREST_RECORD_HISTORIES=<change-id> go test -count=1 \
//	    -run 'TestMajorWaveEndToEnd|TestScenario|TestPolicyAndIssuesEndToEnd' ./workflows/
//
// recordHistories writes each recorded wave with every child it started (minor waves,
// build sets) and every run of each. CREST_RECORD_HISTORIES=1 would write into the top
// level, over the oldest recording: never use it.
const historiesDir = "../testdata/histories"

// requiredHistories are the recordings the replay test expects, relative to historiesDir,
// with text each must contain (historyText: its strings, payloads decoded) to show its
// scenario happened: deleting a file, or re-recording that loses a scenario, fails
// TestReplayRecordedHistories.
var requiredHistories = []struct {
	file string
	has  []string
}{
	// TestMajorWaveEndToEnd, libcore 2 + libnet 2: resolve wont-fix, retries with fixes; one
	// folder per workflow version.
	{"demo~wave-1.json", []string{`"resolution":"wont-fix"`, `"ref":"fix/calc-precision"`, `"ref":"fix/libhttp-libnet-2"`}},
	{"demo~wave-1-1.json", nil},
	{"demo~wave-1-1~build~x86_64-linux~r0~l000~s000.json", nil},
	{"demo~wave-1-2.json", nil},
	{"settle-as-recorded/demo~wave-1.json", []string{versionMarker("settle-as-recorded")}},
	{"settle-as-recorded/demo~wave-1-1.json", nil},
	{"settle-as-recorded/demo~wave-1-1~build~x86_64-linux~r0~l000~s000.json", nil},
	{"settle-as-recorded/demo~wave-1-2.json", nil},
	{"needs-attention/demo~wave-1.json", []string{versionMarker("needs-attention")}},
	{"needs-attention/demo~wave-1-1.json", nil},
	{"needs-attention/demo~wave-1-1~build~x86_64-linux~r0~l000~s000.json", nil},
	{"needs-attention/demo~wave-1-2.json", nil},
	{"dispatch/demo~wave-1.json", nil},
	{"dispatch/demo~wave-1-1.json", []string{versionMarker("dispatch")}},
	{"dispatch/demo~wave-1-1~build~x86_64-linux~r0.json", nil},
	{"dispatch/demo~wave-1-2.json", nil},

	// TestScenarioHappyPath: libcore 2 rc1, every package passes.
	{"scenarios/demo~wave-green.json", []string{completed, `"tag":"wave-1-1"`}},
	{"scenarios/demo~wave-green-1.json", []string{completed}},
	{"scenarios/demo~wave-green-1~build~x86_64-linux~r0.json", []string{completed}},
	// TestScenarioAddUpdate: calc added while libhttp waits; libhttp retried with its fix.
	{"scenarios/demo~wave-addupdate.json", []string{"AddUpdate", `"ref":"fix/calc-precision"`, completed}},
	{"scenarios/demo~wave-addupdate-1.json", []string{"crest.retry", `"ref":"fix/libhttp-libnet-2"`}},
	{"scenarios/demo~wave-addupdate-1~build~x86_64-linux~r0.json", nil},
	{"scenarios/demo~wave-addupdate-1~build~x86_64-linux~r1.json", nil},
	{"scenarios/demo~wave-addupdate-2.json", []string{`"ref":"fix/calc-precision"`}},
	{"scenarios/demo~wave-addupdate-2~build~x86_64-linux~r0.json", nil},
	// TestScenarioPauseResume: paused while building, resumed.
	{"scenarios/demo~wave-pause.json", []string{"Pause", "Resume", completed}},
	{"scenarios/demo~wave-pause-1.json", []string{"crest.pause"}},
	{"scenarios/demo~wave-pause-1~build~x86_64-linux~r0.json", []string{"crest.pause"}},
	// TestScenarioCancel: cancelled while building.
	{"scenarios/demo~wave-cancel.json", []string{"Cancel", cancelled}},
	{"scenarios/demo~wave-cancel-1.json", []string{cancelled}},
	{"scenarios/demo~wave-cancel-1~build~x86_64-linux~r0.json", []string{cancelled}},
	// TestPolicyAndIssuesEndToEnd: tetrix, calc and libhttp marked broken after a 4s grace.
	{"scenarios/demo~wave-policy.json", []string{`"grace_period":"4s"`, completed}},
	{"scenarios/demo~wave-policy-1.json", []string{`"resolution":"marked-broken"`}},
	{"scenarios/demo~wave-policy-1~build~x86_64-linux~r0.json", nil},
	{"scenarios/demo~wave-policy-2.json", []string{`"resolution":"marked-broken"`}},
	{"scenarios/demo~wave-policy-2~build~x86_64-linux~r0.json", nil},
	// TestScenarioContinueAsNew: the major wave continues as new twice, the minor wave that
	// waited for libhttp once.
	{"scenarios/demo~wave-continue@run1.json", []string{`"wave_history_events":1`, continued}},
	{"scenarios/demo~wave-continue@run2.json", []string{continued}},
	{"scenarios/demo~wave-continue@run3.json", []string{completed}},
	{"scenarios/demo~wave-continue-1@run1.json", []string{"crest.retry", continued}},
	{"scenarios/demo~wave-continue-1@run2.json", []string{completed}},
	{"scenarios/demo~wave-continue-1~build~x86_64-linux~r0.json", nil},
	{"scenarios/demo~wave-continue-1~build~x86_64-linux~r1.json", nil},
	{"scenarios/demo~wave-continue-2.json", nil},
	{"scenarios/demo~wave-continue-2~build~x86_64-linux~r0.json", nil},

	// policy-review: one Review activity per review, tagging when policy.Settled says so.
	// TestMajorWaveEndToEnd and TestPolicyAndIssuesEndToEnd again.
	{"policy-review/demo~wave-1.json", []string{completed}},
	{"policy-review/demo~wave-1-1.json", []string{versionMarker("policy-review"), `"marked_broken":0`, `"settled":true`}},
	{"policy-review/demo~wave-1-1~build~x86_64-linux~r0.json", nil},
	{"policy-review/demo~wave-1-1~build~x86_64-linux~r1.json", nil},
	{"policy-review/demo~wave-1-2.json", []string{versionMarker("policy-review"), `"marked_broken":`}},
	{"policy-review/demo~wave-1-2~build~x86_64-linux~r0.json", nil},
	{"policy-review/demo~wave-1-2~build~x86_64-linux~r1.json", nil},
	{"policy-review/demo~wave-policy.json", []string{`"grace_period":"4s"`, completed}},
	{"policy-review/demo~wave-policy-1.json", []string{versionMarker("policy-review"), `"marked_broken":`}},
	{"policy-review/demo~wave-policy-1~build~x86_64-linux~r0.json", nil},
	{"policy-review/demo~wave-policy-2.json", []string{versionMarker("policy-review"), `"marked_broken":1`}},
	{"policy-review/demo~wave-policy-2~build~x86_64-linux~r0.json", nil},

	// record-cancel: a minor wave cancelled through its context records its end.
	// TestScenarioCancel again.
	{"record-cancel/demo~wave-cancel.json", []string{"Cancel", cancelled}},
	{"record-cancel/demo~wave-cancel-1.json", []string{versionMarker("record-cancel"), cancelled}},
	{"record-cancel/demo~wave-cancel-1~build~x86_64-linux~r0.json", []string{cancelled}},

	// queue-intake: the intake of a merge queue submits two pull requests and reports their
	// results. TestQueuePullRequestsEndToEnd (recorded while the intake still runs).
	{"queue-intake/demo~queue~main~TestQueuePullRequestsEndToEnd~intake.json",
		[]string{"QueueSubmitPull", `"key":"pull:crestwaves/demo#1@`, `"key":"pull:crestwaves/demo#2@`, `/main","pull":`, "QueueReport"}},

	// queue-hand-off: a merge queue from before versionQueueWaveLane hands its mass rebuild
	// to the next major wave. TestQueueLanesEndToEnd (recorded while the queue runs).
	{"queue-hand-off/demo~queue~main~TestQueueLanesEndToEnd.json", []string{`"lane":"wave"`, `"wave_wait":"1s"`, `"labels":["security"]`, "Withdraw"}},
	{"queue-hand-off/demo~queue~main~batch-01a23357-1.json", []string{completed}},
	// queue-wave-lane: the two-stage wave lane. TestQueueWaveLaneEndToEnd: two mass
	// rebuilds built aside (red: libcrypto 3 ejected) while calc's fix merges and the queue
	// continues as new carrying the batch aside (run 2); both outcomes are signalled to run
	// 3, which builds libcore 2 rc1 aside again and merges it as one unit.
	{"queue-wave-lane/demo~queue~main~TestQueueWaveLaneEndToEnd@run1.json",
		[]string{versionMarker("queue-wave-lane"), `"wave_lane":"build"`, "WaveLaneBatch", continued}},
	{"queue-wave-lane/demo~queue~main~TestQueueWaveLaneEndToEnd@run2.json", []string{`"wave":{"key":"batch-`, `"phase":"building aside"`, continued}},
	{"queue-wave-lane/demo~queue~main~TestQueueWaveLaneEndToEnd@run3.json",
		[]string{"WaveBuilt", `"requeue":[{"id":1`, `"built":[{"id":1`, "merged as one unit", `"state":"merged"`, continued}},
	{"queue-wave-lane/demo~queue~main~TestQueueWaveLaneEndToEnd@run4.json", []string{`"wave_wait":"10s"`}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-1~aside.json", []string{"breaks pkgtool", "WaveBuilt", completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-1.json", []string{`"priority":5`, completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-1~probe-r1-base-0.json", []string{completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-1~probe-r1-prefix-1.json", []string{completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-1~probe-r1-rebuild-2.json", []string{completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-2.json", []string{`"priority":3`, completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-3~aside.json", []string{`"state":"built"`, "WaveBuilt", completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-3.json", []string{completed}},
	{"queue-wave-lane/demo~queue~main~batch-01a23377-4.json", []string{completed}},

	// batched-takes: a BuildSet takes once for every build that finished. TestMajorWaveEndToEnd.
	{"batched-takes/demo~wave-1.json", []string{completed}},
	{"batched-takes/demo~wave-1-1.json", nil},
	{"batched-takes/demo~wave-1-1~build~x86_64-linux~r0.json", []string{versionMarker("batched-takes")}},
	{"batched-takes/demo~wave-1-1~build~x86_64-linux~r1.json", []string{versionMarker("batched-takes")}},
	{"batched-takes/demo~wave-1-2.json", nil},
	{"batched-takes/demo~wave-1-2~build~x86_64-linux~r0.json", []string{versionMarker("batched-takes")}},
	{"batched-takes/demo~wave-1-2~build~x86_64-linux~r1.json", nil},

	// build-slots: a BuildSet keeps as many builds in flight as its system's builders have
	// slots. TestMajorWaveEndToEnd, the scenarios, TestPolicyAndIssuesEndToEnd and
	// TestBuildSetFillsTheBuildersSlots (three slots announced: window 3).
	{"build-slots/demo~wave-1-1.json", nil},
	{"build-slots/demo~wave-1-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-1-1~build~x86_64-linux~r1.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-1-2.json", nil},
	{"build-slots/demo~wave-1-2~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-1-2~build~x86_64-linux~r1.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-1.json", nil},
	{"build-slots/demo~wave-addupdate-1.json", nil},
	{"build-slots/demo~wave-addupdate-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-addupdate-1~build~x86_64-linux~r1.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-addupdate-2.json", nil},
	{"build-slots/demo~wave-addupdate-2~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-addupdate.json", nil},
	{"build-slots/demo~wave-cancel-1.json", nil},
	{"build-slots/demo~wave-cancel-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-cancel.json", nil},
	{"build-slots/demo~wave-continue-1@run1.json", nil},
	{"build-slots/demo~wave-continue-1@run2.json", nil},
	{"build-slots/demo~wave-continue-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-continue-1~build~x86_64-linux~r1.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-continue-2.json", nil},
	{"build-slots/demo~wave-continue-2~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-continue@run1.json", nil},
	{"build-slots/demo~wave-continue@run2.json", nil},
	{"build-slots/demo~wave-continue@run3.json", nil},
	{"build-slots/demo~wave-green-1.json", nil},
	{"build-slots/demo~wave-green-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-green.json", nil},
	{"build-slots/demo~wave-pause-1.json", nil},
	{"build-slots/demo~wave-pause-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-pause.json", nil},
	{"build-slots/demo~wave-policy-1.json", nil},
	{"build-slots/demo~wave-policy-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-policy-2.json", nil},
	{"build-slots/demo~wave-policy-2~build~x86_64-linux~r0.json", []string{versionMarker("build-slots")}},
	{"build-slots/demo~wave-policy.json", nil},
	{"build-slots/demo~wave-slots-1.json", nil},
	{"build-slots/demo~wave-slots-1~build~x86_64-linux~r0.json", []string{versionMarker("build-slots"), `"window":3`}},
	{"build-slots/demo~wave-slots.json", []string{completed}},

	// unfinished-tags: a minor wave that waits with its builds done pushes wave-N-Mpre.
	// TestMajorWaveEndToEnd, the scenarios, TestPolicyAndIssuesEndToEnd and
	// TestUnfinishedMinorWaveIsTaggedAndPinnable (its BuildSets are those of build-slots).
	{"unfinished-tags/demo~wave-1-1.json", []string{versionMarker("unfinished-tags"), "TagUnfinished"}},
	{"unfinished-tags/demo~wave-1-2.json", []string{versionMarker("unfinished-tags"), "TagUnfinished"}},
	{"unfinished-tags/demo~wave-1.json", nil},
	{"unfinished-tags/demo~wave-addupdate-1.json", []string{versionMarker("unfinished-tags"), "TagUnfinished"}},
	{"unfinished-tags/demo~wave-addupdate-2.json", nil},
	{"unfinished-tags/demo~wave-addupdate.json", nil},
	{"unfinished-tags/demo~wave-cancel-1.json", nil},
	{"unfinished-tags/demo~wave-cancel.json", nil},
	{"unfinished-tags/demo~wave-continue-1@run1.json", []string{versionMarker("unfinished-tags"), "TagUnfinished"}},
	{"unfinished-tags/demo~wave-continue-1@run2.json", nil},
	{"unfinished-tags/demo~wave-continue-2.json", nil},
	{"unfinished-tags/demo~wave-continue@run1.json", nil},
	{"unfinished-tags/demo~wave-continue@run2.json", nil},
	{"unfinished-tags/demo~wave-continue@run3.json", nil},
	{"unfinished-tags/demo~wave-green-1.json", nil},
	{"unfinished-tags/demo~wave-green.json", nil},
	{"unfinished-tags/demo~wave-pause-1.json", nil},
	{"unfinished-tags/demo~wave-pause.json", nil},
	{"unfinished-tags/demo~wave-policy-1.json", []string{versionMarker("unfinished-tags"), "TagUnfinished"}},
	{"unfinished-tags/demo~wave-policy-2.json", []string{versionMarker("unfinished-tags"), "TagUnfinished"}},
	{"unfinished-tags/demo~wave-policy.json", nil},
	{"unfinished-tags/demo~wave-unfinished-1.json", []string{versionMarker("unfinished-tags"), "TagUnfinished"}},
	{"unfinished-tags/demo~wave-unfinished.json", []string{completed}},
	// slot-activities/: BuildSets of the runs above and TestBuildSetFillsTheBuildersSlots,
	// TestBuildSlotsPauseContinueAsNewAndLoseNothing (pause, continue-as-new), with build slots.
	{"slot-activities/demo~wave-1-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-1-1~build~x86_64-linux~r1.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-1-2~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-1-2~build~x86_64-linux~r1.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-addupdate-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-addupdate-1~build~x86_64-linux~r1.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-addupdate-2~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-cancel-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-continue-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-continue-1~build~x86_64-linux~r1.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-continue-2~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-green-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-pause-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-policy-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-policy-2~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-slots-1~build~x86_64-linux~r0.json", []string{versionMarker("slot-activities"), "BuildSlot"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run1.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run2.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run3.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run4.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run5.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run6.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run7.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run8.json", []string{versionMarker("slot-activities"), "BuildSlot", "StopSlots"}},
	{"slot-activities/demo~wave-slots-pause-1~build~x86_64-linux~r0@run9.json", []string{versionMarker("slot-activities"), "BuildSlot"}},

	// security-patch: SecurityPatch before the rebuild strategy was built. A graft of
	// libcrypto onto wave-1-1 (TestSecurityPatchGraftsEndToEnd), a graft refused for its
	// longer store name, and an auto patch whose policy chose rebuild, refused then.
	{"security-patch/demo~patch-graft.json", []string{completed, `"tag":"wave-1-1-security-1"`}},
	{"security-patch/demo~patch-graft-refused.json", []string{"differ in length"}},
	{"security-patch/demo~patch-auto.json", []string{"rebuild is not built yet"}},

	// patch-rebuild: the rebuild strategy. TestSecurityPatchGraftsEndToEnd again, and
	// TestSecurityPatchRebuildsEndToEnd: a rebuild asked for (its BuildSet child), one that
	// fails (pkgtool with libcrypto 3), and an auto patch whose policy chose rebuild.
	{"patch-rebuild/demo~patch-graft.json", []string{versionMarker("patch-rebuild"), `"tag":"wave-1-1-security-1"`}},
	{"patch-rebuild/demo~patch-graft-refused.json", []string{"differ in length"}},
	{"patch-rebuild/demo~patch-rebuild.json", []string{versionMarker("patch-rebuild"), completed, `"tag":"wave-1-1-security-2"`, `"rebuilt":10`}},
	{"patch-rebuild/demo~patch-rebuild~wave-1-1~rebuild.json", []string{completed, `"passed":10`}},
	{"patch-rebuild/demo~patch-rebuild-failed.json", []string{"pkgtool failed to build", "nothing tagged"}},
	{"patch-rebuild/demo~patch-rebuild-failed~wave-1-1~rebuild.json", []string{`"failed":1`}},
	{"patch-rebuild/demo~patch-rebuild-auto.json", []string{"within small_closure", `"rebuilt":10`}},
	{"patch-rebuild/demo~patch-rebuild-auto~wave-1-1~rebuild.json", []string{`"passed":9`}},
	// TestSecurityPatchRebuildCancel: Cancel reaches the BuildSet child.
	{"patch-rebuild/demo~patch-rebuild-cancel.json", []string{"Cancel", "SIGNAL_EXTERNAL", cancelled}},
	{"patch-rebuild/demo~patch-rebuild-cancel~wave-1-1~rebuild.json", []string{"Cancel", `"passed":1`}},
	// An auto patch with libcrypto 3 (a major version change) whose policy chose
	// duplicate-wave, refused then: recorded before that strategy was built.
	{"patch-rebuild/demo~patch-auto-major.json", []string{"duplicate-wave is not built yet"}},

	// patch-duplicate-wave: the duplicate-wave strategy (TestSecurityPatchDuplicateWaveEndToEnd:
	// the patch, its duplicate wave wave-2 with its minor wave and build set), and every
	// patch above again.
	{"patch-duplicate-wave/demo~patch-duplicate.json", []string{versionMarker("patch-duplicate-wave"), completed,
		`"unfinished":"wave-1-1-security-1-unfinished"`, `"tag":"wave-1-1-security-1"`}},
	{"patch-duplicate-wave/demo~wave-2.json", []string{"duplicate-wave of demo/patch-duplicate", completed, `"tag":"wave-2-1"`}},
	{"patch-duplicate-wave/demo~wave-2-1.json", []string{completed}},
	{"patch-duplicate-wave/demo~wave-2-1~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-duplicate-wave/demo~patch-graft.json", []string{versionMarker("patch-duplicate-wave"), `"tag":"wave-1-1-security-1"`}},
	{"patch-duplicate-wave/demo~patch-graft-refused.json", []string{"differ in length"}},
	{"patch-duplicate-wave/demo~patch-rebuild.json", []string{completed, `"rebuilt":10`}},
	{"patch-duplicate-wave/demo~patch-rebuild~wave-1-1~rebuild.json", []string{`"passed":10`}},
	{"patch-duplicate-wave/demo~patch-rebuild-failed.json", []string{"pkgtool failed to build"}},
	{"patch-duplicate-wave/demo~patch-rebuild-failed~wave-1-1~rebuild.json", []string{`"failed":1`}},
	{"patch-duplicate-wave/demo~patch-rebuild-auto.json", []string{"within small_closure"}},
	{"patch-duplicate-wave/demo~patch-rebuild-auto~wave-1-1~rebuild.json", []string{`"passed":9`}},
	{"patch-duplicate-wave/demo~patch-rebuild-cancel.json", []string{"SIGNAL_EXTERNAL", cancelled}},
	{"patch-duplicate-wave/demo~patch-rebuild-cancel~wave-1-1~rebuild.json", []string{"Cancel"}},

	// patch-system-tests: the grafts are committed and the collection's system tests run on
	// them before they are tagged. TestSecurityPatchGraftsEndToEnd: default-system.boot
	// passes on the grafts of libcrypto 2.5.1 and fails on those of 2.6.0 (a new ABI).
	{"patch-system-tests/demo~patch-graft.json", []string{versionMarker("patch-system-tests"), "CommitGrafts", "RunSystemTests",
		`"system_tests":["default-system.boot"]`, `"tag":"wave-1-1-security-1"`, completed}},
	{"patch-system-tests/demo~patch-graft-refused.json", []string{"differ in length"}},
	{"patch-system-tests/demo~patch-graft-system-test.json", []string{versionMarker("patch-system-tests"), "RunSystemTests",
		"system test default-system.boot fails on the grafts", "ABI 2.5 is not 2.6"}},

	// patch-settle: a rebuild's failures are settled as a minor wave's, then tagged.
	// TestSecurityPatchRebuildSettlesFailures: pkgtool retried with its fix (refused requests
	// first, a second build round), libhttp resolved wont-fix, a patch cancelled while it
	// waits; and the rebuilds of TestSecurityPatchRebuildsEndToEnd and
	// TestSecurityPatchRebuildCancel again.
	{"patch-settle/demo~patch-settle-fix.json", []string{versionMarker("patch-settle"), "Review", "CheckRequest",
		"protected: a security tag needs it fixed", `"ref":"fix/pkgtool-libcrypto-3"`, "MergeRefs", `"tag":"wave-1-1-security-1"`, completed}},
	{"patch-settle/demo~patch-settle-fix~wave-1-1~rebuild.json", []string{`"failed":1`}},
	{"patch-settle/demo~patch-settle-fix~wave-1-1~rebuild~r1.json", []string{`"round":1`, completed}},
	{"patch-settle/demo~patch-settle-wont-fix.json", []string{versionMarker("patch-settle"), `"resolution":"wont-fix"`,
		`"tag":"wave-1-1-security-2"`, completed}},
	{"patch-settle/demo~patch-settle-wont-fix~wave-1-1~rebuild.json", nil},
	{"patch-settle/demo~patch-settle-cancel.json", []string{versionMarker("patch-settle"), "Cancel", cancelled}},
	{"patch-settle/demo~patch-settle-cancel~wave-1-1~rebuild.json", nil},
	{"patch-settle/demo~patch-rebuild.json", []string{versionMarker("patch-settle"), completed, `"rebuilt":10`}},
	{"patch-settle/demo~patch-rebuild~wave-1-1~rebuild.json", []string{`"passed":10`}},
	{"patch-settle/demo~patch-rebuild-auto.json", []string{versionMarker("patch-settle"), "within small_closure"}},
	{"patch-settle/demo~patch-rebuild-auto~wave-1-1~rebuild.json", []string{`"passed":9`}},
	{"patch-settle/demo~patch-rebuild-cancel.json", []string{"SIGNAL_EXTERNAL", cancelled}},
	{"patch-settle/demo~patch-rebuild-cancel~wave-1-1~rebuild.json", []string{"Cancel"}},

	// TestSecurityPatchReachesRunningWaveEndToEnd: the patch grafts wave-1-1 and wave-2
	// merges its fix (crest.merge-fix, answered by crest.fix-merged); wave-2-2 rebuilds
	// against it; a conflicting fix is refused. TestSecurityPatchGraftsEndToEnd again (no
	// running wave: PatchRunningWaves finds none).
	{"patch-running-waves/demo~patch-running.json", []string{versionMarker("patch-running-waves"), "crest.fix-merged",
		"merged into running wave wave-2", completed}},
	{"patch-running-waves/demo~patch-running-conflict.json", []string{versionMarker("patch-running-waves"),
		"conflicts in pkgs/libraries/libcrypto/default.nix", "RecordPatchMerge"}},
	{"patch-running-waves/demo~wave-running.json", []string{versionMarker("patch-running-waves"), "crest.merge-fix",
		`"fixed":["libcrypto"]`, completed}},
	{"patch-running-waves/demo~wave-running-1.json", []string{completed}},
	{"patch-running-waves/demo~wave-running-1~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-running-waves/demo~wave-running-2.json", []string{`"fixed":["libcrypto"]`, completed}},
	{"patch-running-waves/demo~wave-running-2~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-running-waves/demo~patch-graft.json", []string{versionMarker("patch-running-waves"), "PatchRunningWaves", completed}},
	{"patch-running-waves/demo~patch-graft-refused.json", []string{"differ in length"}},
	{"patch-running-waves/demo~patch-graft-system-test.json", []string{"ABI 2.5 is not 2.6"}},

	// patch-fork-auto: an auto patch (libcrypto 3, a major version) forks the running
	// wave-1 as an explicit duplicate-wave patch does. TestSecurityPatchAutoForksRunningWaveEndToEnd.
	{"patch-fork-auto/demo~patch-fork-auto.json", []string{versionMarker("patch-fork-auto"), "crest.superseded", "crest.reverified",
		`"tag":"wave-1-1-security-1"`, completed}},
	{"patch-fork-auto/demo~wave-1.json", []string{"crest.supersede", cancelled}},
	{"patch-fork-auto/demo~wave-1-1.json", []string{completed}},
	{"patch-fork-auto/demo~wave-1-1~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-fork-auto/demo~wave-1-2.json", nil},
	{"patch-fork-auto/demo~wave-1-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-auto/demo~wave-2.json", []string{`"of":"wave-1"`, `"ref":"update/libcrypto-3"`, completed}},
	{"patch-fork-auto/demo~wave-2-1.json", []string{completed}},
	{"patch-fork-auto/demo~wave-2-1~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-fork-auto/demo~wave-2-2.json", []string{completed}},
	{"patch-fork-auto/demo~wave-2-2~build~x86_64-linux~r0.json", []string{completed}},

	// patch-priority: a patch's builds go first on the builders (the patched package, its
	// system tests, a rebuild's slots). TestSecurityPatchGraftsEndToEnd and
	// TestSecurityPatchRebuildsEndToEnd.
	{"patch-priority/demo~patch-graft.json", []string{versionMarker("patch-priority"), `"tag":"wave-1-1-security-1"`, completed}},
	{"patch-priority/demo~patch-graft-refused.json", []string{versionMarker("patch-priority"), "differ in length"}},
	{"patch-priority/demo~patch-graft-system-test.json", []string{versionMarker("patch-priority"), "ABI 2.5 is not 2.6"}},
	{"patch-priority/demo~patch-rebuild.json", []string{versionMarker("patch-priority"), `"priority":1`, completed}},
	{"patch-priority/demo~patch-rebuild~wave-1-1~rebuild.json", []string{`"priority":1`, completed}},
	{"patch-priority/demo~patch-rebuild-auto.json", []string{versionMarker("patch-priority"), completed}},
	{"patch-priority/demo~patch-rebuild-auto~wave-1-1~rebuild.json", []string{`"priority":1`, completed}},

	// TestSecurityPatchForksRunningWaveEndToEnd: wave-1 superseded (crest.supersede, its
	// plan answered with crest.superseded), the fork wave-2 re-verifies wave-1-1 as
	// wave-2-1 (crest.reverified) and carries on with pkgtool as wave-2-2.
	// TestSecurityPatchDuplicateWaveEndToEnd again (no running wave: a new wave per tag).
	{"patch-fork-wave/demo~patch-fork.json", []string{versionMarker("patch-fork-wave"), "crest.superseded", "crest.reverified",
		`"tag":"wave-1-1-security-1"`, completed}},
	{"patch-fork-wave/demo~wave-1.json", []string{versionMarker("patch-fork-wave"), "crest.supersede", cancelled}},
	{"patch-fork-wave/demo~wave-1-1.json", []string{completed}},
	{"patch-fork-wave/demo~wave-1-1~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-fork-wave/demo~wave-1-2.json", nil},
	{"patch-fork-wave/demo~wave-1-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-wave/demo~wave-2.json", []string{`"of":"wave-1"`, `"ref":"wave-1-1"`, completed}},
	{"patch-fork-wave/demo~wave-2-1.json", []string{completed}},
	{"patch-fork-wave/demo~wave-2-1~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-fork-wave/demo~wave-2-2.json", []string{completed}},
	{"patch-fork-wave/demo~wave-2-2~build~x86_64-linux~r0.json", []string{completed}},
	{"patch-fork-wave/demo~patch-duplicate.json", []string{versionMarker("patch-fork-wave"), "PatchRunningWaves", completed}},

	// patch-tags-running: --tags names the running wave-32 alone; the fix is merged into
	// it (and not into wave-31), nothing tagged. TestSecurityPatchTagsNameRunningWaveEndToEnd.
	{"patch-tags-running/demo~patch-tags-running.json", []string{versionMarker("patch-tags-running"), "crest.fix-merged",
		"merged into running wave-32", completed}},
	{"patch-tags-running/demo~wave-32.json", []string{"crest.merge-fix", cancelled}},
	{"patch-tags-running/demo~wave-32-1.json", []string{cancelled}},
	{"patch-tags-running/demo~wave-32-1~build~x86_64-linux~r0.json", []string{completed}},
	// patch-fork-check: a fork's wave checks its fork before it stops (crest.supersede with
	// the fix): refused, wave-41 keeps running and finishes; accepted, what people gave the
	// minor wave it had not finished (carol's retry fix, alice's wont-fix) goes to the
	// fork's (wave-52-2). TestSecurityPatchForksRunningWaveEndToEnd,
	// TestSecurityPatchAutoForksRunningWaveEndToEnd, TestSecurityPatchForkRefusedKeepsWaveRunningEndToEnd,
	// TestSecurityPatchForkCarriesRequestsEndToEnd.
	{"patch-fork-check/demo~patch-fork-auto.json", []string{versionMarker("patch-fork-check"), "crest.reverified", completed}},
	{"patch-fork-check/demo~patch-fork-carry.json", []string{versionMarker("patch-fork-check"), "wave-51 forked onto the fix as wave-52", completed}},
	{"patch-fork-check/demo~patch-fork-refused.json", []string{versionMarker("patch-fork-check"), "not forked, it keeps running"}},
	{"patch-fork-check/demo~patch-fork.json", []string{versionMarker("patch-fork-check"), "crest.superseded", `"tag":"wave-11-1-security-1"`, completed}},
	{"patch-fork-check/demo~wave-11-1.json", nil},
	{"patch-fork-check/demo~wave-11-1~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-11-2.json", nil},
	{"patch-fork-check/demo~wave-11-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-11.json", []string{versionMarker("patch-fork-check"), "ValidateWave", cancelled}},
	{"patch-fork-check/demo~wave-12-1.json", nil},
	{"patch-fork-check/demo~wave-12-1~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-12-2.json", nil},
	{"patch-fork-check/demo~wave-12-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-12.json", nil},
	{"patch-fork-check/demo~wave-21-1.json", nil},
	{"patch-fork-check/demo~wave-21-1~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-21-2.json", nil},
	{"patch-fork-check/demo~wave-21-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-21.json", []string{versionMarker("patch-fork-check"), cancelled}},
	{"patch-fork-check/demo~wave-22-1.json", nil},
	{"patch-fork-check/demo~wave-22-1~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-22-2.json", nil},
	{"patch-fork-check/demo~wave-22-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-22.json", nil},
	{"patch-fork-check/demo~wave-41-1.json", nil},
	{"patch-fork-check/demo~wave-41-1~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-41-2.json", nil},
	{"patch-fork-check/demo~wave-41-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-41.json", []string{versionMarker("patch-fork-check"), "would be refused", completed}},
	{"patch-fork-check/demo~wave-51-1.json", nil},
	{"patch-fork-check/demo~wave-51-1~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-51-2.json", nil},
	{"patch-fork-check/demo~wave-51-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-51.json", []string{versionMarker("patch-fork-check"), `"carried"`, cancelled}},
	{"patch-fork-check/demo~wave-52-1.json", nil},
	{"patch-fork-check/demo~wave-52-2.json", []string{`"fixes"`, "upstream dead (carried from wave-51-2, superseded)", completed}},
	{"patch-fork-check/demo~wave-52-2~build~x86_64-linux~r0.json", nil},
	{"patch-fork-check/demo~wave-52.json", []string{`"carried"`, `"ref":"fix/calc-precision"`, completed}},
}

// How a history ended.
const (
	completed = "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
	cancelled = "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED"
	continued = "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
)

// versionMarker is the payload a workflow.GetVersion marker records for a change ID.
func versionMarker(change string) string { return `"` + change + `"` }

func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join(historiesDir, "*", "*.json"))
	require.NoError(t, err)
	files = append(files, more...)
	found := map[string]bool{}
	for _, f := range files {
		found[strings.TrimPrefix(f, historiesDir+"/")] = true
	}
	for _, r := range requiredHistories {
		require.True(t, found[r.file], "recorded history %s is missing: re-record it (see historiesDir)", r.file)
		if len(r.has) > 0 {
			text := historyText(t, filepath.Join(historiesDir, r.file))
			for _, s := range r.has {
				require.True(t, strings.Contains(text, s), "%s does not show its scenario: no %s", r.file, s)
			}
		}
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, historiesDir+"/"), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.Register(r)
			require.NoError(t, replay(t, r, f))
		})
	}
}

// TestReplayRejectsChangedWorkflowCode proves the replay test fails when workflow code
// changes in a way replay rejects: recorded histories replayed against workflows that issue
// other commands than they did, without workflow.GetVersion, fail as nondeterministic.
func TestReplayRejectsChangedWorkflowCode(t *testing.T) {
	for _, tc := range []struct {
		name, file, workflow string
		fn                   any
	}{
		{"a timer before anything else", "scenarios/demo~wave-green.json", "MajorWave",
			func(ctx workflow.Context, in workflows.MajorWaveInput) (workflows.MajorWaveResult, error) {
				if err := workflow.Sleep(ctx, time.Second); err != nil {
					return workflows.MajorWaveResult{}, err
				}
				return workflows.MajorWave(ctx, in)
			}},
		{"done without building", "scenarios/demo~wave-addupdate-1.json", "MinorWave",
			func(ctx workflow.Context, in workflows.MinorWaveInput) (workflows.MinorWaveResult, error) {
				return workflows.MinorWaveResult{Name: in.Name}, nil
			}},
		{"a smaller build window", "scenarios/demo~wave-green-1~build~x86_64-linux~r0.json", "BuildSet",
			func(ctx workflow.Context, in workflows.BuildSetInput) (workflows.BuildSetResult, error) {
				in.Limits.Builds = 1
				return workflows.BuildSet(ctx, in)
			}},
		{"without the history threshold it ran with", "scenarios/demo~wave-continue-1@run1.json", "MinorWave",
			func(ctx workflow.Context, in workflows.MinorWaveInput) (workflows.MinorWaveResult, error) {
				in.Limits.WaveHistoryEvents = 0 // never continues as new where it did
				return workflows.MinorWave(ctx, in)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(historiesDir, tc.file)
			unchanged := worker.NewWorkflowReplayer()
			workflows.Register(unchanged)
			require.NoError(t, replay(t, unchanged, f), "the unchanged code replays it")

			changed := worker.NewWorkflowReplayer()
			changed.RegisterWorkflowWithOptions(tc.fn, workflow.RegisterOptions{Name: tc.workflow})
			err := replay(t, changed, f)
			require.ErrorContains(t, err, "TMPRL1100", "replay rejects %s as nondeterministic", tc.name)
			t.Logf("rejected: %v", err)
		})
	}
}

// historyText is every string of a recorded history's JSON, one a line, with payloads
// decoded (protojson writes them in base64, its spacing varies).
func historyText(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	var lines []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(key, x)
			}
		case string:
			if key == "data" {
				if d, err := base64.StdEncoding.DecodeString(v); err == nil {
					v = string(d)
				}
			}
			lines = append(lines, v)
		}
	}
	walk("", v)
	return strings.Join(lines, "\n")
}

// quietLogger keeps the replayer's reports of rejected histories (the error says it all)
// out of test output.
var quietLogger = log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// replay replays one recorded history under the workflow ID it was recorded with (child
// workflow IDs derive from their parent's).
func replay(t *testing.T, r worker.WorkflowReplayer, file string) error {
	t.Helper()
	fh, err := os.Open(file)
	require.NoError(t, err)
	defer fh.Close()
	h, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
	require.NoError(t, err)
	name, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(file), ".json"), "@")
	id := strings.ReplaceAll(name, "~", "/")
	return r.ReplayWorkflowHistoryWithOptions(quietLogger, h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: id}})
}

// recordHistories writes the histories of the given workflows, of every child workflow
// they started and of every run of each into historiesDir when CREST_RECORD_HISTORIES is
// set: "1" writes into historiesDir itself, another value into that subfolder.
func recordHistories(t *testing.T, c client.Client, ids ...string) {
	t.Helper()
	into := os.Getenv("CREST_RECORD_HISTORIES")
	switch into {
	case "":
		return
	case "1":
		into = historiesDir
	default:
		into = filepath.Join(historiesDir, filepath.Base(into))
	}
	require.NoError(t, os.MkdirAll(into, 0o755))
	seen := map[string]bool{}
	for len(ids) > 0 {
		id := ids[0]
		ids = ids[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		runs := runHistories(t, c, id)
		for i, h := range runs {
			file := strings.ReplaceAll(id, "/", "~")
			if len(runs) > 1 {
				file += fmt.Sprintf("@run%d", i+1)
			}
			b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(into, file+".json"), b, 0o644))
			t.Logf("recorded %s (%d events, %d KB)", file, len(h.Events), len(b)/1024)
			for _, ev := range h.Events {
				if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
					ids = append(ids, a.GetWorkflowId())
				}
			}
		}
	}
}

// runHistories is the history of every run of a workflow, first run first.
func runHistories(t *testing.T, c client.Client, id string) []*historypb.History {
	t.Helper()
	ctx := context.Background()
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	var out []*historypb.History
	for run := d.GetWorkflowExecutionInfo().GetFirstRunId(); run != ""; {
		h := &historypb.History{}
		it := c.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, ev)
		}
		out = append(out, h)
		run = ""
		if n := len(h.Events); n > 0 {
			run = h.Events[n-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		}
	}
	return out
}

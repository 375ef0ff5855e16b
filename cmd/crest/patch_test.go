package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/workflows"
)

// TestPatchStartRefusesBadInput: `crest patch start` with input that could only fail exits
// with an error naming every problem before anything is allocated (no patch in Postgres),
// and a plain start from the Web UI fails with the same words.
func TestPatchStartRefusesBadInput(t *testing.T) {
	cfg := devConfig(t)
	state, stop := startDev(t, cfg)
	defer stop()
	ctx := context.Background()
	st, err := store.Open(ctx, state.DatabaseURL)
	require.NoError(t, err)
	defer st.Close()
	c, err := client.Dial(client.Options{HostPort: state.Temporal, Namespace: state.Namespace})
	require.NoError(t, err)
	defer c.Close()

	for i, c2 := range []struct {
		in   workflows.SecurityPatchInput
		args []string
		want []string
	}{
		{workflows.SecurityPatchInput{Package: "libcrypto", Ref: "no/such/fix"},
			[]string{"libcrypto", "--ref", "no/such/fix"},
			[]string{`ref "no/such/fix" not found in`, "demo has no finished tag to patch"}},
		{workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Strategy: "duplicate-wave", Severity: "urgent"},
			[]string{"libcrypto", "--ref", demo.SecurityLibcrypto251, "--strategy", "duplicate-wave", "--severity", "urgent"},
			[]string{`severity "urgent": want low, medium, high or critical`, "demo has no finished tag to patch"}},
		{workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Strategy: "graft", Tags: []string{"wave-9-9"}},
			[]string{"libcrypto", "--ref", demo.SecurityLibcrypto251, "--strategy", "graft", "--tags", "wave-9-9"},
			[]string{`strategy "graft": want auto, replace-dependency, rebuild or duplicate-wave`, "tag wave-9-9: not a finished tag or a running wave of demo"}},
		{workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Tags: []string{"wave-9"}},
			[]string{"libcrypto", "--ref", demo.SecurityLibcrypto251, "--tags", "wave-9"},
			[]string{"tag wave-9: not a finished tag or a running wave of demo"}},
	} {
		out, err := runCrest(t, append([]string{"--data-dir", cfg.DataDir, "patch", "start"}, c2.args...)...)
		require.Error(t, err, "%v: %s", c2.args, out)
		require.ErrorContains(t, err, "patch of libcrypto refused: ")
		for _, w := range c2.want {
			require.ErrorContains(t, err, w, "%v", c2.args)
		}
		c2.in.Collection = "demo"
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "demo/patch-ui-" + string(rune('a'+i)), TaskQueue: cfg.TaskQueues.Default},
			workflows.SecurityPatch, c2.in)
		require.NoError(t, err)
		err = run.Get(ctx, nil)
		for _, w := range c2.want {
			require.ErrorContains(t, err, w, "Web UI path: %+v", c2.in)
		}
	}
	_, err = runCrest(t, "--data-dir", cfg.DataDir, "patch", "start", "libcrypto")
	require.ErrorContains(t, err, "--ref: required")
	patches, err := st.Patches(ctx, demoCollection)
	require.NoError(t, err)
	require.Empty(t, patches, "a refused patch allocates nothing")
	out, err := runCrest(t, "--data-dir", cfg.DataDir, "patch", "list")
	require.NoError(t, err)
	require.Contains(t, out, "PATCH")
	_, err = runCrest(t, "--data-dir", cfg.DataDir, "patch", "status", "patch-7")
	require.ErrorContains(t, err, "no patch patch-7")
}

// TestPatchStatusShowsTagsAndDebt: crest patch status shows the security tags a patch made
// and its graft debt, open and retired.
func TestPatchStatusShowsTagsAndDebt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-1", BaseRef: "main", State: "done"})
	require.NoError(t, err)
	p, err := st.CreatePatch(ctx, store.Patch{Collection: "demo", WorkflowID: "demo/patch-1", Package: "libcrypto",
		Ref: demo.SecurityLibcrypto251, Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0001"},
		store.AuditEntry{Actor: "person:frank", Action: "patch-started"})
	require.NoError(t, err)
	_, err = st.StartPatchTag(ctx, p.ID, "wave-1-1")
	require.NoError(t, err)
	_, err = st.RecordPatchTag(ctx, store.TaggedPatch{PatchID: p.ID, CoveredTag: "wave-1-1", Commit: "0123456789abcdef",
		Summary: []byte(`{"carries": [{"package": "libnet", "ref": "security/libnet-1.9.1", "tag": "wave-1-1-security-0"}]}`), Strategy: "replace-dependency", Audit: store.AuditEntry{Actor: "crest", Action: "security-tagged"},
		Grafts: []store.GraftDebt{{WaveID: w.ID, System: "x86_64-linux", Package: "backup", PatchedPackage: "libcrypto",
			PatchedDrv: "/nix/store/x.drv", VulnerableVersion: "2.5.0",
			OldPath: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-backup-1.2.0", NewPath: "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-backup-1.2.0"}}})
	require.NoError(t, err)
	// The running waves it reached: one merged the fix, one refused it (recorded once).
	w2, err := st.CreateWave(ctx, store.Wave{CollectionID: col, Number: 2, WorkflowID: "demo/wave-2", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	w3, err := st.CreateWave(ctx, store.Wave{CollectionID: col, Number: 3, WorkflowID: "demo/wave-3", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	for _, commit := range []string{"fedcba9876543210", "1111111111111111"} {
		require.NoError(t, st.RecordPatchMerge(ctx, store.PatchMerge{PatchID: p.ID, WaveID: w2.ID, Wave: "wave-2", Branch: "wave-2",
			State: store.PatchMergeMerged, Commit: commit}, store.AuditEntry{Key: "merge-2", Actor: "crest", Action: "patch-merged"}))
	}
	require.NoError(t, st.RecordPatchMerge(ctx, store.PatchMerge{PatchID: p.ID, WaveID: w3.ID, Wave: "wave-3", Branch: "wave-3",
		State: store.PatchMergeRefused, Reason: "wave-3 refused the fix of libcrypto: conflicts in x.nix"},
		store.AuditEntry{Key: "merge-3", Actor: "crest", Action: "patch-merge-refused"}))
	var out bytes.Buffer
	require.NoError(t, printPatch(ctx, st, "demo/patch-1", &out))
	for _, want := range []string{
		"patch-1: libcrypto from security/libcrypto-2.5.1, severity critical, strategy replace-dependency, CVE-2026-0001",
		"wave-1-1  wave-1-1-security-1  replace-dependency  tagged  0123456789ab",
		"wave-2        wave-2  merged   fedcba987654  merged into the running wave: its next minor wave rebuilds the dependents and retires the debt",
		"wave-3        wave-3  refused  -             wave-3 refused the fix of libcrypto: conflicts in x.nix",
		"wave-1-1-security-1 carries the earlier fixes of libnet from security/libnet-1.9.1 (wave-1-1-security-0)",
		"graft debt: 1 open, 0 retired",
		"backup   wave-1-1  aaaaaaaa → bbbbbbbb  open: rebuild it against the fix in a wave",
	} {
		require.Contains(t, out.String(), want)
	}
	// The waves say it too.
	for wave, want := range map[int]string{
		2: "security fix of patch-1 merged at fedcba987654: the next minor wave rebuilds against it (crest patch status patch-1)",
		3: "security fix of patch-1 refused: wave-3 refused the fix of libcrypto: conflicts in x.nix",
	} {
		out.Reset()
		require.NoError(t, printStatus(ctx, &session{st: st, collection: "demo", prefix: "wave"}, wave, 0, false, &out))
		require.Contains(t, out.String(), want)
	}

	// A duplicate-wave patch says which tag is unfinished, and why.
	p2, err := st.CreatePatch(ctx, store.Patch{Collection: "demo", WorkflowID: "demo/patch-2", Package: "libcrypto",
		Ref: demo.SecurityLibcrypto251, Strategy: "duplicate-wave", Severity: "high"}, store.AuditEntry{Actor: "crest", Action: "patch-started"})
	require.NoError(t, err)
	pt, err := st.StartPatchTag(ctx, p2.ID, "wave-1-1")
	require.NoError(t, err)
	for _, wave := range []int{2, 3} { // a retried activity keeps the wave recorded first
		pt, err = st.MarkUnfinished(ctx, p2.ID, "wave-1-1", "duplicate-wave", wave, pt.Name+"-unfinished", "wave-2 re-verifies the fix",
			store.AuditEntry{Actor: "crest", Action: "security-unfinished"})
		require.NoError(t, err)
		require.Equal(t, 2, pt.DuplicateWave)
	}
	out.Reset()
	require.NoError(t, printPatch(ctx, st, "demo/patch-2", &out))
	for _, want := range []string{
		"wave-1-1  wave-1-1-security-2  duplicate-wave  unfinished  -       wave-2 re-verifies the fix",
		"wave-1-1-security-2-unfinished is UNFINISHED: the fix merged onto wave-1-1, not yet built or tested; wave-2 re-verifies it (crest wave status wave-2)",
	} {
		require.Contains(t, out.String(), want)
	}

	// The debt of a tag of several systems says each graft's system.
	p3, err := st.CreatePatch(ctx, store.Patch{Collection: "demo", WorkflowID: "demo/patch-3", Package: "libcrypto",
		Ref: demo.SecurityLibcrypto251, Strategy: "replace-dependency", Severity: "critical"}, store.AuditEntry{Actor: "crest", Action: "patch-started"})
	require.NoError(t, err)
	_, err = st.StartPatchTag(ctx, p3.ID, "wave-1-2")
	require.NoError(t, err)
	var debt []store.GraftDebt
	for _, system := range []string{"x86_64-linux", "i686-linux"} {
		debt = append(debt, store.GraftDebt{WaveID: w.ID, System: system, Package: "backup", PatchedPackage: "libcrypto",
			PatchedDrv: "/nix/store/x.drv", VulnerableVersion: "2.5.0",
			OldPath: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-backup-1.2.0", NewPath: "/nix/store/cccccccccccccccccccccccccccccccc-backup-1.2.0"})
	}
	_, err = st.RecordPatchTag(ctx, store.TaggedPatch{PatchID: p3.ID, CoveredTag: "wave-1-2", Commit: "2222222222222222", Summary: []byte(`{}`),
		Strategy: "replace-dependency", Audit: store.AuditEntry{Key: "p3", Actor: "crest", Action: "security-tagged"}, Grafts: debt})
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, printPatch(ctx, st, "demo/patch-3", &out))
	require.Contains(t, out.String(), "graft debt: 2 open, 0 retired")
	require.Contains(t, out.String(), "backup (i686-linux)    wave-1-2")
	require.Contains(t, out.String(), "backup (x86_64-linux)  wave-1-2")
}

// TestPatchStartRebuildWaits: after a wave is tagged, `crest patch start --strategy rebuild
// --wait` rebuilds the package's reverse closure, prints the security tag it made, and
// exits zero; crest patch status and list show it, and crest pin answers it.
func TestPatchStartRebuildWaits(t *testing.T) {
	cfg := devConfig(t)
	_, stop := startDev(t, cfg)
	defer stop()
	crest := func(args ...string) (string, error) {
		return runCrest(t, append([]string{"--data-dir", cfg.DataDir}, args...)...)
	}
	out, err := crest("wave", "start", "--update", "calc="+demo.FixCalcPrecision, "--wait")
	require.NoError(t, err, out)

	out, err = crest("patch", "start", "libcrypto", "--ref", demo.SecurityLibcrypto251, "--strategy", "rebuild",
		"--severity", "high", "--advisory", "CVE-2026-0001", "--wait")
	require.NoError(t, err, out)
	for _, want := range []string{
		"started patch-1: libcrypto from " + demo.SecurityLibcrypto251,
		"patch-1: libcrypto from security/libcrypto-2.5.1, severity high, strategy rebuild, CVE-2026-0001",
		"done: tagged wave-1-1-security-1",
		"wave-1-1  wave-1-1-security-1  rebuild   tagged",
		"wave-1-1-security-1: 10 packages rebuilt from source against the fix, no graft debt",
	} {
		require.Contains(t, out, want)
	}
	status, err := crest("patch", "status", "patch-1")
	require.NoError(t, err)
	require.Equal(t, out[strings.Index(out, "\npatch-1: ")+1:], status, "status shows what --wait printed")
	out, err = crest("patch", "list")
	require.NoError(t, err)
	require.Contains(t, out, "patch-1  libcrypto")
	require.Contains(t, out, "rebuild")
	out, err = crest("pin", "backup")
	require.NoError(t, err)
	require.Contains(t, out, "wave-1-1-security-1")

	// A rebuild that fails waits for its failures to be settled, and --wait says what they
	// wait for: crest patch status shows the root cause with its issue and what to do; a
	// resolution the rules refuse (pkgtool is protected) is an error that changes nothing; a
	// retry with the fix settles it, and the patch tags and exits zero.
	type result struct {
		out string
		err error
	}
	waited := make(chan result, 1)
	var progress syncBuffer
	go func() {
		root := newRootCmd()
		root.SetOut(&progress)
		root.SetErr(&progress)
		root.SetArgs([]string{"--data-dir", cfg.DataDir, "patch", "start", "libcrypto", "--ref", demo.UpdateLibcrypto3,
			"--strategy", "rebuild", "--wait"})
		err := root.ExecuteContext(context.Background())
		waited <- result{progress.String(), err}
	}()
	require.Eventually(t, func() bool { return strings.Contains(progress.String(), "patch-2 waits: ") }, 3*time.Minute,
		100*time.Millisecond, "--wait says what patch-2 waits for")
	status, err = crest("patch", "status", "patch-2")
	require.NoError(t, err)
	t.Logf("crest patch status patch-2, waiting:\n%s", status)
	pkgtool := lineWith(status, "  pkgtool ")
	for _, want := range []string{"failed", "local#1 (open)", "next: retry with a fix", "linking failed"} {
		require.Contains(t, pkgtool, want, status)
	}
	require.Contains(t, status, "wave-1-1-security-2: 1 root cause of failures")
	require.Contains(t, status, "settle them: crest patch retry patch-2 PACKAGE --ref FIX, or crest patch resolve patch-2 PACKAGE --as wont-fix|cant-fix --reason TEXT")
	_, err = crest("patch", "resolve", "patch-2", "pkgtool", "--as", "wont-fix", "--reason", "SHA-1 is gone")
	require.ErrorContains(t, err, "resolve pkgtool: package: protected: a security tag needs it fixed")
	require.NotContains(t, err.Error(), "bad resolution", "--as was read")
	require.NotContains(t, err.Error(), "required", "--reason was read, and --by defaults to $USER")
	out, err = crest("patch", "retry", "patch-2", "pkgtool", "--ref", demo.FixPkgtoolLibcrypto3)
	require.NoError(t, err, out)
	require.Contains(t, out, "wave-1-1-security-2: pkgtool will be rebuilt after merging fix/pkgtool-libcrypto-3")
	var res result
	select {
	case res = <-waited:
	case <-time.After(3 * time.Minute):
		t.Fatal("crest patch start --wait did not return once the failure was settled")
	}
	require.NoError(t, res.err, res.out)
	t.Logf("crest patch start --wait:\n%s", res.out)
	require.Contains(t, res.out, "patch-2 waits: 1 failure wait: pkgtool (failed); next: crest patch retry patch-2 PACKAGE --ref FIX")
	require.Contains(t, res.out, "done: tagged wave-1-1-security-2")
	pkgtool = lineWith(res.out, "  pkgtool ")
	require.Contains(t, pkgtool, "fixed")
	require.Contains(t, pkgtool, "local#1 (closed)")
	require.NotContains(t, res.out, "settle them:", "nothing left to settle")
	out, err = crest("pin", "backup")
	require.NoError(t, err)
	require.Contains(t, out, "wave-1-1-security-2")
}

// lineWith is the first line of out that contains s.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

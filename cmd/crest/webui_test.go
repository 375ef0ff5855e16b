package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/internal/browsertest"
	"github.com/crestwaves/crest/workflows"
)

// readmeStartForm is what the README tells a release manager to enter in the Web UI's
// Start Workflow form: the fields by their labels on the form, and the JSON input.
type readmeStartForm struct {
	Fields [][2]string // label, value, in the README's order
	Input  string
}

var (
	readmeWebUIStart = regexp.MustCompile("(?s)From the Web UI: \\*Start Workflow\\*(.*?)```json\n(.*?)```")
	readmeFormField  = regexp.MustCompile("(Workflow ID|Task Queue|Workflow Type)\\s+`([^`]+)`")
)

// readREADMEStartForm reads the form's values from the README, so that the test enters
// exactly what a reader would.
func readREADMEStartForm(t *testing.T) readmeStartForm {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := readmeWebUIStart.FindSubmatch(b)
	require.NotNil(t, m, "the README shows how to start a wave from the Web UI")
	var f readmeStartForm
	for _, fm := range readmeFormField.FindAllStringSubmatch(string(m[1]), -1) {
		f.Fields = append(f.Fields, [2]string{fm[1], fm[2]})
	}
	require.Len(t, f.Fields, 3, "the README names Workflow ID, Task Queue and Workflow Type: %s", m[1])
	f.Input = string(m[2])
	require.True(t, json.Valid([]byte(f.Input)), "the README's input is JSON: %s", f.Input)
	return f
}

// field is the README's value for the form field with this label.
func (f readmeStartForm) field(label string) string {
	for _, kv := range f.Fields {
		if kv[0] == label {
			return kv[1]
		}
	}
	return ""
}

// TestWebUIStartFormStartsMajorWaveShownOnStatusSite follows the README in Chromium: on
// crest dev's Temporal Web UI, Start Workflow from the workflow list, fill the form with
// the README's values and JSON input, submit; the workflow's page shows the wave running,
// Crest's status site lists it and shows its minor wave at work, and `crest wave cancel`
// finds it by the README's workflow ID.
func TestWebUIStartFormStartsMajorWaveShownOnStatusSite(t *testing.T) {
	form := readREADMEStartForm(t)
	var in workflows.MajorWaveInput
	require.NoError(t, json.Unmarshal([]byte(form.Input), &in))
	wave := fmt.Sprintf("wave-%d", in.Wave)
	workflowID := form.field("Workflow ID")
	require.Equal(t, waveID(in.Collection, in.Wave), workflowID, "the README's workflow ID is the one the crest wave commands look for")

	cfg := devConfig(t)
	var out syncBuffer
	state, stop := startDevOut(t, cfg, false, &out)
	defer stop()
	site := "http://" + devSiteAddr(t, &out)
	require.Equal(t, cfg.TaskQueues.Default, form.field("Task Queue"), "the README's task queue is the one Crest's worker polls")

	ctx := browsertest.New(t)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, "text of %s", sel)
		return s
	}

	// The workflow list, as the banner's Web UI line opens it, has a Start Workflow button.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate("http://"+state.UI+"/namespaces/"+state.Namespace+"/workflows"),
		chromedp.Click(`//a[normalize-space()="Start Workflow"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="start-workflow"]`)),
	))
	// Each field is found by its label, as a person reads the form.
	for _, kv := range form.Fields {
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
			const l = [...document.querySelectorAll('label')].find(l => l.textContent.trim().replace(/\s*\*$/, '') === %q);
			return l ? l.htmlFor : ''; })()`, kv[0])))
		require.NoError(t, err)
		require.NotEmpty(t, id, "the form has a field labelled %q", kv[0])
		require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID(id), kv[1])))
		got, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID(id)))
		require.NoError(t, err)
		require.Equal(t, kv[1], got, "field %q", kv[0])
	}
	plain, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="encoding"][value="json/plain"]').checked`))
	require.NoError(t, err)
	require.True(t, plain, "the input's encoding is json/plain by default, as the README says")
	// The input is a code editor: type into it as a person pasting the README's JSON would.
	editor := chromedp.CSS(`.cm-content[contenteditable="true"]`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Focus(editor),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: form.Input})
			return err
		}),
		// Leaving the editor reformats its JSON and moves the button below it: leave first,
		// so that the click lands on the button.
		chromedp.Blur(editor),
	))
	typed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('.cm-content .cm-line')].map(l => l.textContent).join('\n')`))
	require.NoError(t, err)
	require.JSONEq(t, form.Input, typed, "the editor holds the README's input")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitEnabled(chromedp.CSS(`[data-testid="start-workflow-button"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="start-workflow-button"]`)),
	))
	started, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const t = document.body.innerText;
		return ['Workflow started successfully', 'Error starting'].find(s => t.includes(s)) || null; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the form says whether the workflow started:\n%s", text("body"))
	require.Equal(t, "Workflow started successfully", started, "%s", text("main"))

	// The workflow's page, from the list: the README's workflow ID, running as a MajorWave.
	link := func(table, name string) string {
		return fmt.Sprintf(`%s//a[normalize-space()=%q]`, table, name)
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(link("", "Back to Workflows"))))
	reloadUntil(t, ctx, "http://"+state.UI+"/namespaces/"+state.Namespace+"/workflows", 45*time.Second, jsExists(link("", workflowID)), "the workflow list shows "+workflowID)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(link("", workflowID))))
	_, err = chromedp.Run(ctx, chromedp.PollFunction[bool](`(want) => {
		const t = document.querySelector('main')?.innerText ?? '';
		return want.every(w => t.includes(w)); }`,
		chromedp.WithPollingArgs([]string{workflowID, form.field("Workflow Type"), "Running"}), chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the workflow's page shows it running:\n%s", text("main"))

	// Crest's status site: the waves list links the new wave; its page shows the minor wave
	// once planned, at work or past it.
	reloadUntil(t, ctx, site+"/", time.Second, jsExists(link(`//table[@id="waves"]`, wave)), "the status site lists "+wave)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(link(`//table[@id="waves"]`, wave)),
		chromedp.WaitVisible(chromedp.ID("wave")),
	))
	require.Contains(t, text("h1#wave"), in.Collection+" "+wave+" · "+in.Title)
	minor := wave + "-1"
	phaseJS := fmt.Sprintf(`document.querySelector('section.minor#%s h2 .state')?.textContent`, minor)
	atWork, _ := json.Marshal([]string{workflows.PhaseBuilding, workflows.PhaseWaiting, workflows.PhaseTagging, workflows.PhaseDone})
	wavePage, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	require.NoError(t, err)
	reloadUntil(t, ctx, wavePage, time.Second, fmt.Sprintf(`%s.includes(%s)`, atWork, phaseJS), minor+" at work (building or later)")
	phase, err := chromedp.Run(ctx, chromedp.Evaluate[string](phaseJS))
	require.NoError(t, err)
	t.Logf("status site: %s %s", minor, phase)
	section := text("section.minor#" + minor)
	require.Contains(t, section, fmt.Sprintf("Updates %s → %s", in.Updates[0].Package, in.Updates[0].Ref))
	require.Contains(t, text("main"), "workflow "+workflowID)

	// The CLI steers the wave the Web UI started: it finds it by the README's workflow ID.
	msg, err := runCrest(t, "--data-dir", cfg.DataDir, "wave", "cancel", wave)
	require.NoError(t, err, msg)
	c, err := client.Dial(client.Options{HostPort: state.Temporal, Namespace: state.Namespace})
	require.NoError(t, err)
	defer c.Close()
	wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var canceled *temporal.CanceledError
	require.ErrorAs(t, c.GetWorkflow(wctx, workflowID, "").Get(wctx, nil), &canceled, "the wave ends cancelled")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("wave"))))
	require.Equal(t, workflows.PhaseCancelled, text("h1#wave + p .state"), "the status site shows the wave cancelled")
}

// jsExists is a JavaScript condition: an element matches the XPath expression.
func jsExists(xpath string) string {
	return fmt.Sprintf(`document.evaluate(%q, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue !== null`, xpath)
}

// reloadUntil waits until the JavaScript condition holds on the page, up to each, and
// reloads url until it does, waiting up to each after every load, for at most 90 seconds
// in all: the status site renders on the server, and the Web UI fetches its list once per
// visit (and takes long to render it on a busy machine), so what the test waits for may
// show only on a fresh load.
func reloadUntil(t *testing.T, ctx context.Context, url string, each time.Duration, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(each)))
		if err == nil {
			return
		}
		require.ErrorIs(t, err, chromedp.ErrPollingTimeout)
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: not seen on %s in 90s:\n%s", what, url, body)
		}
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	}
}

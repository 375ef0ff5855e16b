package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
)

// StartDuplicateWave starts the duplicate-wave strategy of a covered tag: it allocates the
// major wave that will re-verify the fix (the next number; the workflow starts it from
// the covered tag with the fix as its update), records the covered tag as unfinished, and
// tags the fix merged onto the covered tag <tag>-security-K-unfinished at once — clearly
// marked in its name and message: not yet built or tested — which people may pin by name
// while the wave runs (crest pin answers only finished security tags). Idempotent: the
// wave and tag recorded first are kept. A fork of a running wave (in.Fork) allocated its
// wave once (in.DuplicateWave) for every finished tag of the wave it forks.
func (a *Activities) StartDuplicateWave(ctx context.Context, in wire.GraftsInput) (wire.DuplicateWave, error) {
	var out wire.DuplicateWave
	pt, err := a.Store.StartPatchTag(ctx, in.PatchID, in.Tag.Tag)
	if err != nil {
		return out, err
	}
	prefix, err := a.Store.TagPrefix(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	if pt.DuplicateWave == 0 {
		n := in.DuplicateWave
		if n == 0 {
			if n, err = a.Store.NextWaveNumber(ctx, in.Collection); err != nil {
				return out, err
			}
		}
		name, unfinished := wavename.Major(prefix, n), pt.Name+"-unfinished"
		reason := fmt.Sprintf("%s re-verifies the fix; %s has it meanwhile, merged but not yet built or tested", name, unfinished)
		if in.Fork != "" {
			reason = fmt.Sprintf("%s, the fork of the running %s onto the fix, re-verifies %s with it minor wave by minor wave; %s has the fix meanwhile, merged but not yet built or tested",
				name, in.Fork, in.Tag.Tag, unfinished)
		}
		if pt, err = a.Store.MarkUnfinished(ctx, in.PatchID, in.Tag.Tag, in.Strategy, n, unfinished, reason,
			store.AuditEntry{Key: in.WorkflowID + "/unfinished/" + in.Tag.Tag, Actor: "crest", Wave: in.Tag.Tag, Package: in.Package,
				Action: "security-unfinished", Reason: reason}); err != nil {
			return out, err
		}
	}
	out = wire.DuplicateWave{Number: pt.DuplicateWave, Name: wavename.Major(prefix, pt.DuplicateWave),
		WorkflowID: wire.MajorWaveID(in.Collection, pt.DuplicateWave), Unfinished: pt.UnfinishedTag}

	sum, repo, err := a.tagging(ctx, in)
	if err != nil {
		return out, err
	}
	sum.Tag, sum.Wave, sum.Unfinished = out.Unfinished, out.Name, true
	doc, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return out, err
	}
	msg := fmt.Sprintf("%s: %s %s → %s, UNFINISHED\n\nThe fix %s merged onto %s, not yet built or tested: %s re-verifies it,\n"+
		"and %s will be the finished tag.\n\n%s\n", out.Unfinished, in.Package, sum.OldVersion, sum.NewVersion, in.Ref, in.Tag.Tag,
		out.Name, in.Prepared.Name, doc)
	if err := repo.Tag(ctx, out.Unfinished, in.Prepared.Commit, msg); err != nil {
		return out, err
	}
	return out, repo.Push(ctx, in.Prepared.Branch, "refs/tags/"+out.Unfinished)
}

// TagDuplicateWave makes the security tag of a covered tag with the duplicate-wave
// strategy once its wave finished: <tag>-security-K at the commit of the wave's last tag
// (the fix on the covered tag, re-verified by a whole wave, with whatever fixes its
// failures needed), annotated with the wave and its tags, pushed and recorded as tagged,
// so crest pin answers it from then on. Idempotent, as TagGrafts.
func (a *Activities) TagDuplicateWave(ctx context.Context, in wire.DuplicateTagInput) (wire.SecurityTagResult, error) {
	if len(in.WaveTags) == 0 {
		return wire.SecurityTagResult{}, invalid("%s finished without a tag: nothing to tag %s with", in.Wave.Name, in.Prepared.Name)
	}
	last := in.WaveTags[len(in.WaveTags)-1]
	tags, err := a.Store.Tags(ctx, in.Collection)
	if err != nil {
		return wire.SecurityTagResult{}, err
	}
	commit := ""
	for _, t := range tags {
		if t.Name == last {
			commit = t.Commit
		}
	}
	if commit == "" {
		return wire.SecurityTagResult{}, fmt.Errorf("tag %s of %s: %w", last, in.Wave.Name, store.ErrNotFound)
	}
	sum, repo, err := a.tagging(ctx, in.GraftsInput)
	if err != nil {
		return wire.SecurityTagResult{}, err
	}
	// The wave's last tag has the fix without grafts: a later fix stacks on it.
	sum.Wave, sum.WaveTags, sum.Merged = in.Wave.Name, in.WaveTags, commit
	body := fmt.Sprintf("%s of %s: %s re-verified the fix as a wave does (its last tag: %s); until then it was %s.\n",
		in.Strategy, in.Tag.Tag, in.Wave.Name, last, in.Wave.Unfinished)
	if _, err := a.pushSecurityTag(ctx, repo, in.GraftsInput, securityTag{commit: commit, body: body, sum: sum,
		audit: fmt.Sprintf("%s: %s re-verified %s %s (%s)", in.Prepared.Name, in.Wave.Name, in.Package, sum.NewVersion, last)}); err != nil {
		return wire.SecurityTagResult{}, err
	}
	return wire.SecurityTagResult{Tag: in.Prepared.Name, Commit: commit}, nil
}

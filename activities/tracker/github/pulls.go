package github

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strings"

	gh "github.com/google/go-github/v88/github"

	"github.com/crestwaves/crest/activities/tracker"
)

var _ tracker.Pulls = (*Tracker)(nil)

// Repo implements tracker.Pulls: the repository of Config.
func (t *Tracker) Repo() string { return t.cfg.Repo }

// Ready implements tracker.Pulls: the open pull requests into base that are not drafts,
// carry label (in any case, as GitHub matches labels) and are approved (see Approval),
// oldest first. Reviews are read only for labelled pull requests, so an unlabelled
// repository costs one request per 100 pull requests.
func (t *Tracker) Ready(ctx context.Context, base, label string) ([]tracker.PullRequest, error) {
	c := t.newCall("pulls")
	if strings.TrimSpace(base) == "" || strings.TrimSpace(label) == "" {
		return nil, c.invalidf("pull requests: a base branch and a label are required")
	}
	opts := &gh.PullRequestListOptions{State: "open", Base: base, Sort: "created", Direction: "asc",
		ListOptions: gh.ListOptions{PerPage: 100}}
	var labelled []*gh.PullRequest
	err := pages(ctx, c, func(ctx context.Context, page int) ([]*gh.PullRequest, *gh.Response, error) {
		opts.Page = page
		return t.client.PullRequests.List(ctx, t.owner, t.name, opts)
	}, func(pr *gh.PullRequest) bool {
		if !pr.GetDraft() && pr.GetState() == "open" && pr.GetBase().GetRef() == base &&
			slices.ContainsFunc(pr.Labels, func(l *gh.Label) bool { return strings.EqualFold(l.GetName(), label) }) {
			labelled = append(labelled, pr)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	var out []tracker.PullRequest
	for _, pr := range labelled {
		reviews, err := t.reviews(ctx, c, pr.GetNumber())
		if err != nil {
			return nil, err
		}
		approvers, blockers := Approval(reviews)
		if len(approvers) == 0 || len(blockers) > 0 {
			continue
		}
		labels := make([]string, 0, len(pr.Labels))
		for _, l := range pr.Labels {
			labels = append(labels, l.GetName())
		}
		out = append(out, tracker.PullRequest{
			Repo: t.cfg.Repo, Number: int64(pr.GetNumber()), Title: oneLine(pr.GetTitle()), Author: pr.GetUser().GetLogin(),
			Base: pr.GetBase().GetRef(), Head: pr.GetHead().GetSHA(), HeadRef: pr.GetHead().GetRef(),
			URL: t.scrub.clean(pr.GetHTMLURL()), Labels: labels, Approvers: approvers,
		})
	}
	slices.SortFunc(out, func(a, b tracker.PullRequest) int { return cmp.Compare(a.Number, b.Number) })
	return out, nil
}

// Review is what Approval needs of a pull request review.
type Review struct {
	User  string // the reviewer's login
	State string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING
}

// Approval reads a pull request's reviews (oldest first, as GitHub lists them) the way
// GitHub does: each reviewer's latest review that approves, requests changes or was
// dismissed is where they stand (a later comment does not undo an approval; a dismissal
// does; pending reviews are not submitted). It returns the reviewers who approve and
// those who request changes, sorted; a pull request is approved when the first list is
// not empty and the second is.
func Approval(reviews []Review) (approvers, blockers []string) {
	latest := map[string]string{}
	var order []string
	for _, r := range reviews {
		switch r.State {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
		default:
			continue
		}
		key := strings.ToLower(r.User)
		if _, ok := latest[key]; !ok {
			order = append(order, r.User)
		}
		latest[key] = r.State
	}
	for _, user := range order {
		switch latest[strings.ToLower(user)] {
		case "APPROVED":
			approvers = append(approvers, user)
		case "CHANGES_REQUESTED":
			blockers = append(blockers, user)
		}
	}
	slices.Sort(approvers)
	slices.Sort(blockers)
	return approvers, blockers
}

// reviews lists a pull request's reviews, oldest first.
func (t *Tracker) reviews(ctx context.Context, c *call, number int) ([]Review, error) {
	opts := &gh.ListOptions{PerPage: 100}
	var out []Review
	err := pages(ctx, c, func(ctx context.Context, page int) ([]*gh.PullRequestReview, *gh.Response, error) {
		opts.Page = page
		return t.client.PullRequests.ListReviews(ctx, t.owner, t.name, number, opts)
	}, func(r *gh.PullRequestReview) bool {
		out = append(out, Review{User: r.GetUser().GetLogin(), State: r.GetState()})
		return true
	})
	return out, err
}

// CommentPull implements tracker.Pulls: a pull request is an issue to GitHub's comments.
func (t *Tracker) CommentPull(ctx context.Context, number int64, key, body string) error {
	c := t.newCall("comment")
	if number <= 0 || int64(int(number)) != number {
		return c.invalidf("pull request number %d", number)
	}
	return t.comment(ctx, c, t.owner, t.name, int(number), key, body)
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// SetStatus implements tracker.Pulls. It reads the commit's statuses first (GitHub lists
// them newest first) and posts only when the newest of s.Context differs; posting the
// same status twice would be harmless, so failed posts are retried in place.
func (t *Tracker) SetStatus(ctx context.Context, commit string, s tracker.CommitStatus) error {
	c := t.newCall("status")
	switch {
	case !commitRE.MatchString(commit):
		return c.invalidf("commit %q: want a full commit hash", commit)
	case !s.State.Valid():
		return c.invalidf("status state %q", s.State)
	case strings.TrimSpace(s.Context) == "":
		return c.invalidf("status without a context")
	}
	desc := oneLine(s.Description)
	if len(desc) > tracker.MaxStatusDescription {
		cut := tracker.MaxStatusDescription - len("…")
		for cut > 0 && desc[cut]&0xC0 == 0x80 {
			cut--
		}
		desc = desc[:cut] + "…"
	}
	var page []*gh.RepoStatus
	err := c.do(ctx, true, func(ctx context.Context) (*gh.Response, error) {
		var resp *gh.Response
		var err error
		page, resp, err = t.client.Repositories.ListStatuses(ctx, t.owner, t.name, commit, &gh.ListOptions{PerPage: 100})
		return resp, err
	})
	if err != nil {
		return err
	}
	for _, st := range page {
		if st.GetContext() != s.Context {
			continue
		}
		if st.GetState() == string(s.State) && st.GetDescription() == desc && st.GetTargetURL() == s.TargetURL {
			t.log.Debug("status already set", "op", c.op, "commit", commit, "state", string(s.State))
			return nil
		}
		break
	}
	req := gh.RepoStatus{State: gh.Ptr(string(s.State)), Context: gh.Ptr(s.Context), Description: gh.Ptr(desc)}
	if s.TargetURL != "" {
		req.TargetURL = gh.Ptr(s.TargetURL)
	}
	err = c.do(ctx, true, func(ctx context.Context) (*gh.Response, error) {
		_, resp, err := t.client.Repositories.CreateStatus(ctx, t.owner, t.name, commit, req)
		return resp, err
	})
	if err != nil {
		return err
	}
	t.log.Info("set commit status", "op", c.op, "commit", commit, "state", string(s.State), "context", s.Context)
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

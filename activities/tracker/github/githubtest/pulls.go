package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// pull is what makes an issue a pull request.
type pull struct {
	base, baseSHA    string
	headRef, headSHA string
	draft            bool
	reviews          []*review
}

type review struct {
	id        int64
	user      string
	state     string
	commitID  string
	submitted time.Time
}

type status struct {
	id                                  int64
	state, context, description, target string
	created                             time.Time
}

// Pull is a pull request to seed with SeedPull.
type Pull struct {
	User    string   // the author's login
	Title   string   // one line
	Body    string   // optional
	Base    string   // the branch it goes into, e.g. "main"
	HeadRef string   // its head branch
	HeadSHA string   // its head commit (40 hex digits)
	Labels  []string // label names
	Draft   bool     // a draft is not ready for review
}

// Status is a snapshot of a commit status on the server.
type Status struct {
	State       string // pending, success, failure or error
	Context     string // e.g. "crest/merge-queue"
	Description string
	TargetURL   string
}

// SeedPull opens a pull request (an issue with a head and a base, numbered with the
// issues, as on GitHub) and returns its number.
func (s *Server) SeedPull(fullName string, p Pull) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		panic("githubtest: no repo " + fullName)
	}
	is := s.newIssue(r, p.User, p.Title, p.Body, p.Labels, nil)
	sum := sha1.Sum([]byte(fullName + "\x00" + p.Base))
	is.pull = &pull{base: p.Base, baseSHA: hex.EncodeToString(sum[:]), headRef: p.HeadRef, headSHA: p.HeadSHA, draft: p.Draft}
	r.commits[p.HeadSHA] = true
	return is.number
}

// AddReview submits a review of the pull request's current head as user: state is
// APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED (GitHub's names).
func (s *Server) AddReview(fullName string, number int, user, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.pullIssue(fullName, number)
	is.pull.reviews = append(is.pull.reviews, &review{id: s.id(), user: user, state: state, commitID: is.pull.headSHA, submitted: time.Now().UTC()})
	is.updated = time.Now().UTC()
}

// PushPull moves the pull request's head to sha, as a push to its branch does (reviews
// stay, as on a repository that does not dismiss stale approvals).
func (s *Server) PushPull(fullName string, number int, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.pullIssue(fullName, number)
	is.pull.headSHA = sha
	s.repos[strings.ToLower(fullName)].commits[sha] = true
	is.updated = time.Now().UTC()
}

// SetLabels replaces the labels of an issue or pull request.
func (s *Server) SetLabels(fullName string, number int, labels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issue(fullName, number)
	if is == nil {
		panic(fmt.Sprintf("githubtest: no issue %s#%d", fullName, number))
	}
	r := s.repos[strings.ToLower(fullName)]
	is.labels = nil
	for _, l := range labels {
		if _, ok := r.labels[l]; !ok {
			r.labels[l] = s.id()
		}
		is.labels = append(is.labels, l)
	}
	is.updated = time.Now().UTC()
}

// ClosePull closes a pull request without merging it.
func (s *Server) ClosePull(fullName string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.pullIssue(fullName, number)
	is.state, is.closed, is.updated = "closed", time.Now().UTC(), time.Now().UTC()
}

// Statuses returns the statuses of a commit, oldest first.
func (s *Server) Statuses(fullName, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return nil
	}
	var out []Status
	for _, st := range r.statuses[sha] {
		out = append(out, Status{State: st.state, Context: st.context, Description: st.description, TargetURL: st.target})
	}
	return out
}

func (s *Server) pullIssue(fullName string, number int) *issue {
	is := s.issue(fullName, number)
	if is == nil || is.pull == nil {
		panic(fmt.Sprintf("githubtest: no pull request %s#%d", fullName, number))
	}
	return is
}

// --- handlers (https://docs.github.com/rest/pulls, /rest/commits/statuses) ---

const (
	docListPulls     = "https://docs.github.com/rest/pulls/pulls#list-pull-requests"
	docGetPull       = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
	docListReviews   = "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request"
	docCreateStatus  = "https://docs.github.com/rest/commits/statuses#create-a-commit-status"
	docListStatuses  = "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference"
	maxDescription   = 140
	defaultStatusCtx = "default"
)

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	rp, _, ok := s.lookup(w, r, docListPulls, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if !slices.Contains([]string{"open", "closed", "all"}, state) {
		s.writeValidation(w, r, docListPulls, validationError{Resource: "PullRequest", Code: "invalid", Field: "state", Value: state})
		return
	}
	base := q.Get("base")
	s.mu.Lock()
	var sel []*issue
	for _, is := range rp.issues {
		if is.pull == nil || (state != "all" && is.state != state) || (base != "" && is.pull.base != base) {
			continue
		}
		sel = append(sel, is)
	}
	// GitHub: newest first when sorting by creation (the default), otherwise oldest first,
	// unless direction says otherwise.
	key := func(is *issue) int64 {
		if q.Get("sort") == "updated" {
			return is.updated.UnixNano()
		}
		return int64(is.number)
	}
	asc := q.Get("direction") == "asc" || (q.Get("direction") == "" && q.Get("sort") != "" && q.Get("sort") != "created")
	sort.SliceStable(sel, func(i, j int) bool {
		if asc {
			return key(sel[i]) < key(sel[j])
		}
		return key(sel[i]) > key(sel[j])
	})
	items := paginate(w, r, len(sel))
	out := make([]map[string]any, 0, len(items))
	for _, i := range items {
		out = append(out, s.pullJSON(rp, sel[i], false))
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

// lookupPull is lookup for a pull request: an issue that is not one is a 404, as on GitHub.
func (s *Server) lookupPull(w http.ResponseWriter, r *http.Request, doc string) (*repo, *issue, bool) {
	rp, is, ok := s.lookup(w, r, doc, true)
	if !ok {
		return nil, nil, false
	}
	if is.pull == nil {
		s.writeError(w, r.Header.Get("Authorization"), http.StatusNotFound, "Not Found", doc)
		return nil, nil, false
	}
	return rp, is, true
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	rp, is, ok := s.lookupPull(w, r, docGetPull)
	if !ok {
		return
	}
	s.mu.Lock()
	out := s.pullJSON(rp, is, true)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request) {
	rp, is, ok := s.lookupPull(w, r, docListReviews)
	if !ok {
		return
	}
	s.mu.Lock()
	items := paginate(w, r, len(is.pull.reviews))
	out := make([]map[string]any, 0, len(items))
	for _, i := range items {
		rv := is.pull.reviews[i]
		html := fmt.Sprintf("https://github.com/%s/%s/pull/%d#pullrequestreview-%d", rp.owner, rp.name, is.number, rv.id)
		prURL := s.apiURL("/repos/%s/%s/pulls/%d", rp.owner, rp.name, is.number)
		out = append(out, map[string]any{
			"id": rv.id, "node_id": fmt.Sprintf("PRR_kwDO%d", rv.id), "user": s.userJSON(rv.user), "body": "",
			"state": rv.state, "html_url": html, "pull_request_url": prURL, "submitted_at": ts(rv.submitted),
			"commit_id": rv.commitID, "author_association": "MEMBER",
			"_links": map[string]any{"html": map[string]any{"href": html}, "pull_request": map[string]any{"href": prURL}},
		})
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	rp, _, ok := s.lookup(w, r, docCreateStatus, false)
	if !ok {
		return
	}
	var req struct {
		State       *string `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	sha := r.PathValue("sha")
	if req.State == nil || !slices.Contains([]string{"pending", "success", "failure", "error"}, *req.State) {
		var v any
		if req.State != nil {
			v = *req.State
		}
		s.writeValidation(w, r, docCreateStatus, validationError{Resource: "Status", Code: "invalid", Field: "state", Value: v})
		return
	}
	st := &status{state: *req.State, context: defaultStatusCtx, created: time.Now().UTC()}
	if req.Context != nil && *req.Context != "" {
		st.context = *req.Context
	}
	if req.Description != nil {
		st.description = *req.Description
	}
	if req.TargetURL != nil {
		st.target = *req.TargetURL
	}
	if len([]rune(st.description)) > maxDescription {
		s.writeValidation(w, r, docCreateStatus, validationError{Resource: "Status", Code: "custom", Field: "description"})
		return
	}
	s.mu.Lock()
	if !rp.commits[sha] {
		s.mu.Unlock()
		s.writeValidation(w, r, docCreateStatus, validationError{Resource: "Status", Code: "custom", Field: "sha", Value: "No commit found for SHA: " + sha})
		return
	}
	st.id = s.id()
	rp.statuses[sha] = append(rp.statuses[sha], st)
	out := s.statusJSON(rp, sha, st)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	rp, _, ok := s.lookup(w, r, docListStatuses, false)
	if !ok {
		return
	}
	sha := r.PathValue("ref")
	s.mu.Lock()
	all := rp.statuses[sha]
	items := paginate(w, r, len(all))
	out := make([]map[string]any, 0, len(items))
	for _, i := range items {
		out = append(out, s.statusJSON(rp, sha, all[len(all)-1-i])) // newest first
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) statusJSON(rp *repo, sha string, st *status) map[string]any {
	var desc, target any
	if st.description != "" {
		desc = st.description
	}
	if st.target != "" {
		target = st.target
	}
	return map[string]any{
		"url": s.apiURL("/repos/%s/%s/statuses/%s", rp.owner, rp.name, sha), "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
		"id": st.id, "node_id": fmt.Sprintf("SC_kwDO%d", st.id), "state": st.state, "description": desc, "target_url": target,
		"context": st.context, "created_at": ts(st.created), "updated_at": ts(st.created), "creator": s.userJSON(BotLogin),
	}
}

func (s *Server) repoJSON(rp *repo) map[string]any {
	full := rp.owner + "/" + rp.name
	return map[string]any{
		"id": rp.id, "node_id": fmt.Sprintf("R_kgDO%d", rp.id), "name": rp.name, "full_name": full,
		"owner": s.userJSON(rp.owner), "private": false, "html_url": "https://github.com/" + full,
		"url": s.apiURL("/repos/%s", full), "fork": false, "default_branch": "main",
	}
}

// pullJSON is a pull request as GitHub shows it: the list's shape, and with full the
// single pull request's extra fields.
func (s *Server) pullJSON(rp *repo, is *issue, full bool) map[string]any {
	p := is.pull
	api := s.apiURL("/repos/%s/%s/pulls/%d", rp.owner, rp.name, is.number)
	html := fmt.Sprintf("https://github.com/%s/%s/pull/%d", rp.owner, rp.name, is.number)
	issueURL := s.apiURL("/repos/%s/%s/issues/%d", rp.owner, rp.name, is.number)
	assignee, assignees := s.assigneesJSON(is.assignees)
	ref := func(branch, sha string) map[string]any {
		return map[string]any{"label": rp.owner + ":" + branch, "ref": branch, "sha": sha, "user": s.userJSON(rp.owner), "repo": s.repoJSON(rp)}
	}
	out := map[string]any{
		"id": is.id, "node_id": fmt.Sprintf("PR_kwDO%d", is.id), "url": api, "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issueURL,
		"commits_url": api + "/commits", "review_comments_url": api + "/comments",
		"review_comment_url": s.apiURL("/repos/%s/%s/pulls/comments{/number}", rp.owner, rp.name),
		"comments_url":       issueURL + "/comments", "statuses_url": s.apiURL("/repos/%s/%s/statuses/%s", rp.owner, rp.name, p.headSHA),
		"number": is.number, "state": is.state, "locked": false, "title": is.title, "user": s.userJSON(is.user), "body": is.body,
		"labels": s.labelsJSON(rp, is.labels), "milestone": nil, "active_lock_reason": nil,
		"created_at": ts(is.created), "updated_at": ts(is.updated), "closed_at": ts(is.closed), "merged_at": nil,
		"merge_commit_sha": nil, "assignee": assignee, "assignees": assignees, "requested_reviewers": []any{}, "requested_teams": []any{},
		"head": ref(p.headRef, p.headSHA), "base": ref(p.base, p.baseSHA), "author_association": "CONTRIBUTOR",
		"auto_merge": nil, "draft": p.draft,
		"_links": map[string]any{"self": map[string]any{"href": api}, "html": map[string]any{"href": html},
			"issue": map[string]any{"href": issueURL}, "comments": map[string]any{"href": issueURL + "/comments"},
			"statuses": map[string]any{"href": s.apiURL("/repos/%s/%s/statuses/%s", rp.owner, rp.name, p.headSHA)}},
	}
	if full {
		out["merged"], out["mergeable"], out["mergeable_state"], out["merged_by"] = false, true, "clean", nil
		out["comments"], out["review_comments"], out["maintainer_can_modify"] = len(is.comments), 0, false
		out["commits"], out["additions"], out["deletions"], out["changed_files"] = 1, 1, 0, 1
		out["rebaseable"] = true
	}
	return out
}

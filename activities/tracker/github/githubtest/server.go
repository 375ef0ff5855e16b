package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BotLogin is the login of the user the server's token belongs to.
const BotLogin = "crest-bot"

// Documentation URLs GitHub puts in error bodies; go-github and Crest tell a secondary
// rate limit by the suffix of its URL.
const (
	docRest           = "https://docs.github.com/rest"
	docPrimaryLimit   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
	docSecondaryLimit = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	rateLimit         = 5000
)

// Server is a fake GitHub API. Its zero value is not usable; call New.
type Server struct {
	srv   *httptest.Server
	token string
	mux   *http.ServeMux

	mu         sync.Mutex
	repos      map[string]*repo
	faults     []Fault
	assignable map[string]bool // nil: anyone can be assigned
	echo       bool
	used       int
	reset      time.Time
	requests   []Request
	nextID     int64
}

type repo struct {
	owner, name string
	id          int64
	issues      []*issue // by number-1
	labels      map[string]int64
	statuses    map[string][]*status // by commit, oldest first
	commits     map[string]bool      // commits the repository has: every head a pull request had
}

type issue struct {
	id          int64
	number      int
	title, body string
	state       string
	stateReason string
	user        string
	labels      []string
	assignees   []string
	comments    []*comment
	created     time.Time
	updated     time.Time
	closed      time.Time
	closedBy    string
	pull        *pull // set when the issue is a pull request
}

type comment struct {
	id      int64
	user    string
	body    string
	created time.Time
}

// Request is one request the server received, for assertions.
type Request struct {
	Method string     // GET, POST, …
	Path   string     // without the /api/v3 prefix
	Query  url.Values // parsed query string
	Status int        // the status the server answered with
}

// Fault is a response the server gives instead of the real one, once, to the first
// request that matches Method and Path (empty matches any).
type Fault struct {
	Method string      // e.g. "POST"; empty matches any
	Path   string      // e.g. "/repos/nixos/nixpkgs/issues"; empty matches any
	Status int         // the status to answer with
	Header http.Header // extra headers, e.g. Retry-After
	Body   string      // JSON body; a GitHub-shaped message for Status when empty
	// AfterHandling lets the request take effect (the issue is created) and answers
	// with the fault anyway, like a gateway timing out in front of a working backend.
	AfterHandling bool
}

// Issue is a snapshot of an issue on the server.
type Issue struct {
	Number      int       // issue number in its repository
	Title       string    // as filed or edited
	Body        string    // as filed or edited, markers included
	State       string    // "open" or "closed"
	StateReason string    // "completed", "not_planned", "reopened" or empty
	User        string    // login of the author
	Labels      []string  // label names, in the order given
	Assignees   []string  // logins
	Comments    []Comment // oldest first
	PullRequest bool      // the issue is a pull request
}

// Comment is a snapshot of a comment on the server.
type Comment struct {
	ID   int64  // comment id
	User string // login of the author
	Body string // text, markers included
}

// New starts a server that accepts token (as "Bearer <token>" or "token <token>") and
// closes it when t ends.
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{token: token, repos: map[string]*repo{}, nextID: 1000, reset: time.Now().Add(time.Hour)}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /repos/{owner}/{repo}/issues", s.createIssue)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/issues", s.listIssues)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}", s.getIssue)
	s.mux.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", s.editIssue)
	s.mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", s.createComment)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", s.listComments)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", s.listPulls)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", s.getPull)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/reviews", s.listReviews)
	s.mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", s.createStatus)
	s.mux.HandleFunc("GET /repos/{owner}/{repo}/commits/{ref}/statuses", s.listStatuses)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the API root to configure clients with, with a trailing slash.
func (s *Server) URL() string { return s.srv.URL + "/" }

// AddRepo creates the repository "owner/name".
func (s *Server) AddRepo(fullName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, name, _ := strings.Cut(fullName, "/")
	s.repos[strings.ToLower(fullName)] = &repo{owner: owner, name: name, id: s.id(), labels: map[string]int64{},
		statuses: map[string][]*status{}, commits: map[string]bool{}}
}

// SetAssignable restricts who can be assigned to issues; others get a 422.
func (s *Server) SetAssignable(logins ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assignable = map[string]bool{}
	for _, l := range logins {
		s.assignable[strings.ToLower(l)] = true
	}
}

// EchoCredentials makes error bodies quote the request's Authorization header, as a
// careless proxy might: a client that passes error text through leaks its token.
func (s *Server) EchoCredentials(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.echo = on
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ServerError queues a status (5xx) for the next matching request, answered before or
// after the request takes effect.
func (s *Server) ServerError(method, path string, status int, afterHandling bool) {
	s.Inject(Fault{Method: method, Path: path, Status: status, AfterHandling: afterHandling})
}

// SecondaryRateLimit queues a 403 secondary rate limit with Retry-After for the next
// matching request.
func (s *Server) SecondaryRateLimit(method, path string, retryAfter time.Duration) {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter.Round(time.Second)/time.Second)))
	s.Inject(Fault{Method: method, Path: path, Status: http.StatusForbidden, Header: h,
		Body: errorBody("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222:3333:4444.", docSecondaryLimit, http.StatusForbidden)})
}

// ExhaustRateLimit uses up the primary rate limit until reset (rounded up to a whole
// second, as X-RateLimit-Reset says it): every request until then gets a 403 with
// X-RateLimit-Remaining: 0, as on GitHub.
func (s *Server) ExhaustRateLimit(reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := reset.Truncate(time.Second); r.Before(reset) {
		reset = r.Add(time.Second)
	}
	s.used, s.reset = rateLimit, reset
}

// SeedIssue files an open issue as user (for listings and pagination) and returns its number.
func (s *Server) SeedIssue(fullName, user, title, body string, labels ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		panic("githubtest: no repo " + fullName)
	}
	return s.newIssue(r, user, title, body, labels, nil).number
}

// AddComment comments on an issue as user (a maintainer answering).
func (s *Server) AddComment(fullName string, number int, user, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issue(fullName, number)
	if is == nil {
		panic(fmt.Sprintf("githubtest: no issue %s#%d", fullName, number))
	}
	s.newComment(is, user, body)
}

// Issues returns snapshots of the repository's issues, by number.
func (s *Server) Issues(fullName string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return nil
	}
	out := make([]Issue, 0, len(r.issues))
	for _, is := range r.issues {
		snap := Issue{
			Number: is.number, Title: is.title, Body: is.body, State: is.state, StateReason: is.stateReason,
			User: is.user, Labels: slices.Clone(is.labels), Assignees: slices.Clone(is.assignees), PullRequest: is.pull != nil,
		}
		for _, c := range is.comments {
			snap.Comments = append(snap.Comments, Comment{ID: c.id, User: c.user, Body: c.body})
		}
		out = append(out, snap)
	}
	return out
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count returns how many requests had method and path.
func (s *Server) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader implements http.ResponseWriter.
func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if p, ok := strings.CutPrefix(r.URL.Path, "/api/v3"); ok {
		r.URL.Path = p
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: sw.status})
		s.mu.Unlock()
	}()
	w = sw

	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("0000:%04X:%06X", len(s.Requests()), time.Now().UnixNano()&0xFFFFFF))

	auth := r.Header.Get("Authorization")
	if !s.authorized(auth) {
		s.setRate(h, false)
		s.writeError(w, auth, http.StatusUnauthorized, "Bad credentials", docRest)
		return
	}

	s.mu.Lock()
	now := time.Now()
	if !now.Before(s.reset) {
		s.used, s.reset = 0, now.Add(time.Hour)
	}
	exhausted := s.used >= rateLimit
	if !exhausted {
		s.used++
	}
	fault, faulted := s.takeFault(r)
	s.mu.Unlock()
	s.setRate(h, true)

	if exhausted {
		s.writeError(w, auth, http.StatusForbidden,
			"API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222:3333:4444.",
			docPrimaryLimit)
		return
	}
	if faulted && fault.AfterHandling {
		s.mux.ServeHTTP(httptest.NewRecorder(), r)
	}
	if faulted {
		for k, vs := range fault.Header {
			h[k] = vs
		}
		body := fault.Body
		if body == "" {
			msg := http.StatusText(fault.Status)
			if fault.Status >= 500 {
				msg = "Server Error"
			}
			body = errorBody(msg, docRest, fault.Status)
		}
		if s.echoing() {
			body = errorBody("fault (credentials: "+auth+")", docRest, fault.Status)
		}
		w.WriteHeader(fault.Status)
		_, _ = w.Write([]byte(body))
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) authorized(auth string) bool {
	scheme, tok, ok := strings.Cut(auth, " ")
	return ok && (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token")) && tok == s.token
}

func (s *Server) echoing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.echo
}

// setRate writes the rate-limit headers GitHub sends on every response.
func (s *Server) setRate(h http.Header, authenticated bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit, used := rateLimit, s.used
	if !authenticated {
		limit, used = 60, 1
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, limit-used)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Resource", "core")
}

func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && (f.Path == "" || f.Path == r.URL.Path) {
			s.faults = slices.Delete(s.faults, i, i+1)
			return f, true
		}
	}
	return Fault{}, false
}

func errorBody(message, doc string, status int) string {
	b, _ := json.Marshal(map[string]string{"message": message, "documentation_url": doc, "status": strconv.Itoa(status)})
	return string(b)
}

func (s *Server) writeError(w http.ResponseWriter, auth string, status int, message, doc string) {
	if s.echoing() {
		message += " (credentials: " + auth + ")"
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(errorBody(message, doc, status)))
}

// validationError is GitHub's 422 shape.
type validationError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
	Value    any    `json:"value,omitempty"`
}

func (s *Server) writeValidation(w http.ResponseWriter, r *http.Request, doc string, errs ...validationError) {
	msg := "Validation Failed"
	if s.echoing() {
		msg += " (credentials: " + r.Header.Get("Authorization") + ")"
	}
	w.WriteHeader(http.StatusUnprocessableEntity)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"message": msg, "errors": errs, "documentation_url": doc, "status": "422",
	})
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// lookup finds the repository (and issue, when the path has a number) of r; on failure
// it has written the 404.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, doc string, withIssue bool) (*repo, *issue, bool) {
	s.mu.Lock()
	rp := s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	var is *issue
	if rp != nil && withIssue {
		if n, err := strconv.Atoi(r.PathValue("number")); err == nil && n >= 1 && n <= len(rp.issues) {
			is = rp.issues[n-1]
		}
	}
	s.mu.Unlock()
	if rp == nil || (withIssue && is == nil) {
		s.writeError(w, r.Header.Get("Authorization"), http.StatusNotFound, "Not Found", doc)
		return nil, nil, false
	}
	return rp, is, true
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) issue(fullName string, number int) *issue {
	r := s.repos[strings.ToLower(fullName)]
	if r == nil || number < 1 || number > len(r.issues) {
		return nil
	}
	return r.issues[number-1]
}

func (s *Server) newIssue(r *repo, user, title, body string, labels, assignees []string) *issue {
	now := time.Now().UTC()
	is := &issue{
		id: s.id(), number: len(r.issues) + 1, title: title, body: body, state: "open", user: user,
		created: now, updated: now,
	}
	for _, l := range labels {
		if _, ok := r.labels[l]; !ok {
			r.labels[l] = s.id()
		}
		if !slices.Contains(is.labels, l) {
			is.labels = append(is.labels, l)
		}
	}
	is.assignees = slices.Clone(assignees)
	r.issues = append(r.issues, is)
	return is
}

func (s *Server) newComment(is *issue, user, body string) *comment {
	c := &comment{id: s.id(), user: user, body: body, created: time.Now().UTC()}
	is.comments = append(is.comments, c)
	is.updated = c.created
	return c
}

// --- handlers ---

const (
	docCreateIssue   = "https://docs.github.com/rest/issues/issues#create-an-issue"
	docListIssues    = "https://docs.github.com/rest/issues/issues#list-repository-issues"
	docGetIssue      = "https://docs.github.com/rest/issues/issues#get-an-issue"
	docUpdateIssue   = "https://docs.github.com/rest/issues/issues#update-an-issue"
	docCreateComment = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
	docListComments  = "https://docs.github.com/rest/issues/comments#list-issue-comments"
)

type issueRequest struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
	Labels      *[]string `json:"labels"`
	Assignee    *string   `json:"assignee"`
	Assignees   *[]string `json:"assignees"`
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		s.writeError(w, r.Header.Get("Authorization"), http.StatusBadRequest, "Problems parsing JSON", docRest)
		return false
	}
	return true
}

func (s *Server) badAssignees(r *http.Request, logins []string) []validationError {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []validationError
	for _, l := range logins {
		if s.assignable != nil && !s.assignable[strings.ToLower(l)] {
			errs = append(errs, validationError{Resource: "Issue", Code: "invalid", Field: "assignees", Value: l})
		}
	}
	return errs
}

func (s *Server) createIssue(w http.ResponseWriter, r *http.Request) {
	rp, _, ok := s.lookup(w, r, docCreateIssue, false)
	if !ok {
		return
	}
	var req issueRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
		s.writeValidation(w, r, docCreateIssue, validationError{Resource: "Issue", Code: "missing_field", Field: "title"})
		return
	}
	var assignees []string
	if req.Assignees != nil {
		assignees = *req.Assignees
	}
	if req.Assignee != nil {
		assignees = append(assignees, *req.Assignee)
	}
	if errs := s.badAssignees(r, assignees); len(errs) > 0 {
		s.writeValidation(w, r, docCreateIssue, errs...)
		return
	}
	var labels []string
	if req.Labels != nil {
		labels = *req.Labels
	}
	body := ""
	if req.Body != nil {
		body = *req.Body
	}
	s.mu.Lock()
	is := s.newIssue(rp, BotLogin, *req.Title, body, labels, assignees)
	out := s.issueJSON(rp, is)
	s.mu.Unlock()
	w.Header().Set("Location", out["url"].(string))
	s.writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) {
	rp, _, ok := s.lookup(w, r, docListIssues, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	s.mu.Lock()
	var sel []*issue
	for _, is := range rp.issues {
		if state != "all" && is.state != state {
			continue
		}
		match := true
		for _, l := range want {
			if !slices.ContainsFunc(is.labels, func(x string) bool { return strings.EqualFold(x, strings.TrimSpace(l)) }) {
				match = false
			}
		}
		if match {
			sel = append(sel, is)
		}
	}
	key := func(is *issue) int64 {
		switch q.Get("sort") {
		case "updated":
			return is.updated.UnixNano()
		case "comments":
			return int64(len(is.comments))
		default:
			return int64(is.number) // creation order
		}
	}
	asc := q.Get("direction") == "asc"
	sort.SliceStable(sel, func(i, j int) bool {
		if asc {
			return key(sel[i]) < key(sel[j])
		}
		return key(sel[i]) > key(sel[j])
	})
	items := paginate(w, r, len(sel))
	out := make([]map[string]any, 0, len(items))
	for _, i := range items {
		out = append(out, s.issueJSON(rp, sel[i]))
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

// paginate reads per_page and page, sets the Link header, and returns the indexes of the
// page's items.
func paginate(w http.ResponseWriter, r *http.Request, total int) []int {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max(1, (total+per-1)/per)
	link := func(p int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		if strings.HasPrefix(r.RequestURI, "/api/v3") {
			u.Path = "/api/v3" + r.URL.Path
		}
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(per))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	var idx []int
	for i := (page - 1) * per; i < min(total, page*per); i++ {
		idx = append(idx, i)
	}
	return idx
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request) {
	rp, is, ok := s.lookup(w, r, docGetIssue, true)
	if !ok {
		return
	}
	s.mu.Lock()
	out := s.issueJSON(rp, is)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) editIssue(w http.ResponseWriter, r *http.Request) {
	rp, is, ok := s.lookup(w, r, docUpdateIssue, true)
	if !ok {
		return
	}
	var req issueRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		s.writeValidation(w, r, docUpdateIssue, validationError{Resource: "Issue", Code: "invalid", Field: "state", Value: *req.State})
		return
	}
	if req.StateReason != nil && !slices.Contains([]string{"completed", "not_planned", "reopened", "duplicate"}, *req.StateReason) {
		s.writeValidation(w, r, docUpdateIssue, validationError{Resource: "Issue", Code: "invalid", Field: "state_reason", Value: *req.StateReason})
		return
	}
	if req.Assignees != nil {
		if errs := s.badAssignees(r, *req.Assignees); len(errs) > 0 {
			s.writeValidation(w, r, docUpdateIssue, errs...)
			return
		}
	}
	s.mu.Lock()
	now := time.Now().UTC()
	if req.Title != nil {
		is.title = *req.Title
	}
	if req.Body != nil {
		is.body = *req.Body
	}
	if req.Labels != nil {
		is.labels = nil
		for _, l := range *req.Labels {
			if _, ok := rp.labels[l]; !ok {
				rp.labels[l] = s.id()
			}
			is.labels = append(is.labels, l)
		}
	}
	if req.Assignees != nil {
		is.assignees = slices.Clone(*req.Assignees)
	}
	if req.State != nil && *req.State != is.state {
		is.state = *req.State
		if is.state == "closed" {
			is.closed, is.closedBy, is.stateReason = now, BotLogin, "completed"
		} else {
			is.closed, is.closedBy, is.stateReason = time.Time{}, "", "reopened"
		}
	}
	if req.StateReason != nil && is.state == "closed" {
		is.stateReason = *req.StateReason
	}
	is.updated = now
	out := s.issueJSON(rp, is)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	rp, is, ok := s.lookup(w, r, docCreateComment, true)
	if !ok {
		return
	}
	var req struct {
		Body *string `json:"body"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.Body == nil || *req.Body == "" {
		s.writeValidation(w, r, docCreateComment, validationError{Resource: "IssueComment", Code: "missing_field", Field: "body"})
		return
	}
	s.mu.Lock()
	c := s.newComment(is, BotLogin, *req.Body)
	out := s.commentJSON(rp, is, c)
	s.mu.Unlock()
	w.Header().Set("Location", out["url"].(string))
	s.writeJSON(w, http.StatusCreated, out)
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	rp, is, ok := s.lookup(w, r, docListComments, true)
	if !ok {
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.writeValidation(w, r, docListComments, validationError{Resource: "IssueComment", Code: "invalid", Field: "since", Value: v})
			return
		}
		since = t
	}
	s.mu.Lock()
	var sel []*comment
	for _, c := range is.comments {
		if !c.created.Before(since) {
			sel = append(sel, c)
		}
	}
	items := paginate(w, r, len(sel))
	out := make([]map[string]any, 0, len(items))
	for _, i := range items {
		out = append(out, s.commentJSON(rp, is, sel[i]))
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

// --- JSON shapes (https://docs.github.com/rest/issues) ---

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) apiURL(format string, args ...any) string {
	return s.srv.URL + fmt.Sprintf(format, args...)
}

func (s *Server) userJSON(login string) map[string]any {
	id := int64(1)
	typ := "Bot"
	if login != BotLogin {
		id, typ = int64(len(login))*7919, "User"
	}
	return map[string]any{
		"login": login, "id": id, "node_id": fmt.Sprintf("MDQ6VXNlcj%d", id),
		"avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(id, 10) + "?v=4",
		"url":        s.apiURL("/users/%s", login), "html_url": "https://github.com/" + login,
		"type": typ, "site_admin": false,
	}
}

func (s *Server) labelsJSON(rp *repo, names []string) []map[string]any {
	labels := make([]map[string]any, 0, len(names))
	for _, l := range names {
		labels = append(labels, map[string]any{
			"id": rp.labels[l], "node_id": fmt.Sprintf("MDU6TGFiZWw%d", rp.labels[l]),
			"url":  s.apiURL("/repos/%s/%s/labels/%s", rp.owner, rp.name, url.PathEscape(l)),
			"name": l, "description": nil, "color": "ededed", "default": false,
		})
	}
	return labels
}

// assigneesJSON is the "assignee" (the first) and "assignees" of an issue.
func (s *Server) assigneesJSON(logins []string) (any, []map[string]any) {
	assignees := make([]map[string]any, 0, len(logins))
	for _, a := range logins {
		assignees = append(assignees, s.userJSON(a))
	}
	if len(assignees) == 0 {
		return nil, assignees
	}
	return assignees[0], assignees
}

func (s *Server) issueJSON(rp *repo, is *issue) map[string]any {
	base := s.apiURL("/repos/%s/%s/issues/%d", rp.owner, rp.name, is.number)
	labels := s.labelsJSON(rp, is.labels)
	assignee, assignees := s.assigneesJSON(is.assignees)
	var reason, closedBy any
	if is.stateReason != "" {
		reason = is.stateReason
	}
	if is.closedBy != "" {
		closedBy = s.userJSON(is.closedBy)
	}
	out := map[string]any{
		"id": is.id, "node_id": fmt.Sprintf("I_kwDO%d", is.id), "url": base,
		"repository_url": s.apiURL("/repos/%s/%s", rp.owner, rp.name),
		"labels_url":     base + "/labels{/name}", "comments_url": base + "/comments", "events_url": base + "/events",
		"html_url": fmt.Sprintf("https://github.com/%s/%s/issues/%d", rp.owner, rp.name, is.number),
		"number":   is.number, "state": is.state, "state_reason": reason, "title": is.title, "body": is.body,
		"user": s.userJSON(is.user), "labels": labels, "assignee": assignee, "assignees": assignees,
		"milestone": nil, "locked": false, "active_lock_reason": nil, "comments": len(is.comments),
		"closed_at": ts(is.closed), "created_at": ts(is.created), "updated_at": ts(is.updated),
		"closed_by": closedBy, "author_association": "NONE",
		"reactions": map[string]any{"url": base + "/reactions", "total_count": 0, "+1": 0, "-1": 0},
	}
	if is.pull != nil {
		// GitHub lists pull requests among issues, marked by this key.
		pr := s.apiURL("/repos/%s/%s/pulls/%d", rp.owner, rp.name, is.number)
		html := fmt.Sprintf("https://github.com/%s/%s/pull/%d", rp.owner, rp.name, is.number)
		out["html_url"] = html
		out["pull_request"] = map[string]any{"url": pr, "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": nil}
	}
	return out
}

func (s *Server) commentJSON(rp *repo, is *issue, c *comment) map[string]any {
	return map[string]any{
		"id": c.id, "node_id": fmt.Sprintf("IC_kwDO%d", c.id),
		"url":       s.apiURL("/repos/%s/%s/issues/comments/%d", rp.owner, rp.name, c.id),
		"html_url":  fmt.Sprintf("https://github.com/%s/%s/issues/%d#issuecomment-%d", rp.owner, rp.name, is.number, c.id),
		"issue_url": s.apiURL("/repos/%s/%s/issues/%d", rp.owner, rp.name, is.number),
		"body":      c.body, "user": s.userJSON(c.user),
		"created_at": ts(c.created), "updated_at": ts(c.created), "author_association": "NONE",
	}
}

package site

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crestwaves/crest/activities/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// Options configures the site.
type Options struct {
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// Logger receives errors that pages only name as "internal error".
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server is the status site over a store. It only reads.
type Server struct {
	st     *store.Store
	opts   Options
	pages  map[string]*template.Template
	mux    *http.ServeMux
	logger *slog.Logger
}

// New returns the site over st.
func New(st *store.Store, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{st: st, opts: opts, pages: map[string]*template.Template{}, mux: http.NewServeMux(), logger: opts.Logger}
	for _, page := range []string{"waves", "wave", "package", "tags", "pin", "issues", "queue", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("site template %s: %w", page, err)
		}
		s.pages[page] = t
	}
	s.mux.HandleFunc("GET /{$}", s.page("waves", s.waves))
	s.mux.HandleFunc("GET /waves", s.page("waves", s.waves))
	s.mux.HandleFunc("GET /waves/{collection}/{wave}", s.page("wave", s.wave))
	s.mux.HandleFunc("GET /waves/{collection}/{wave}/burndown/{minor}", s.burndown)
	s.mux.HandleFunc("GET /waves/{collection}/{wave}/{picture}", s.waveChart)
	s.mux.HandleFunc("GET /packages/{collection}/{package}", s.page("package", s.pkg))
	s.mux.HandleFunc("GET /tags", s.page("tags", s.tags))
	s.mux.HandleFunc("GET /pin", s.page("pin", s.pin))
	s.mux.HandleFunc("GET /issues", s.page("issues", s.issues))
	s.mux.HandleFunc("GET /queue", s.page("queue", s.queue))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	if opts.Metrics != nil {
		s.mux.Handle("GET /metrics", opts.Metrics)
	}
	return s, nil
}

// ServeHTTP routes a request. A path ending in .json is the same page as JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p, ok := strings.CutSuffix(r.URL.Path, ".json"); ok && p != "" {
		r2 := r.Clone(r.Context())
		r2.URL.Path = p
		if p == "/index" {
			r2.URL.Path = "/"
		}
		q := r2.URL.Query()
		q.Set("format", "json")
		r2.URL.RawQuery = q.Encode()
		r = r2
	}
	s.mux.ServeHTTP(w, r)
}

// errNotFound is what a page answers 404 with; its text names what was asked for.
type errNotFound struct{ what string }

func (e errNotFound) Error() string { return e.what + ": not found" }

// page renders what load returns as the named template, or as JSON when asked.
func (s *Server) page(name string, load func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := load(r)
		asJSON := r.URL.Query().Get("format") == "json"
		if err != nil {
			s.fail(w, r, err, asJSON)
			return
		}
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(data)
			return
		}
		s.render(w, name, http.StatusOK, data)
	}
}

func (s *Server) render(w http.ResponseWriter, name string, status int, data any) {
	var b strings.Builder
	if err := s.pages[name].Execute(&b, data); err != nil {
		s.logger.Error("site: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail answers an error. Only not-found says more than "internal error": database errors
// may carry connection details, so they go to the log, never to the page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, asJSON bool) {
	status, msg := http.StatusInternalServerError, "internal error (see the server's log)"
	var nf errNotFound
	switch {
	case errors.As(err, &nf):
		status, msg = http.StatusNotFound, nf.Error()
	case errors.Is(err, errBadRequest):
		status, msg = http.StatusBadRequest, err.Error()
	default:
		s.logger.Error("site: page", "path", r.URL.Path, "err", err)
	}
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	s.render(w, "error", status, map[string]any{"Title": http.StatusText(status), "Message": msg})
}

var errBadRequest = errors.New("bad request")

var funcs = template.FuncMap{
	"issueURL": func(issue string) string {
		if u, err := url.Parse(issue); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
			return issue
		}
		return ""
	},
	"pct": func(part, total int) int {
		if total == 0 {
			return 0
		}
		return part * 100 / total
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 MST")
	},
	"seconds": func(s float64) string { // a latency as people read it: 0 is not yet
		if s <= 0 {
			return ""
		}
		return (time.Duration(s) * time.Second).Round(time.Second).String()
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"path": url.PathEscape,
	// png is a picture's PNG beside its SVG: pages show PNGs, which look the same in every
	// browser (an SVG's text is laid out for Liberation Sans, and a browser without it or
	// Arial draws a wider font that runs out of the legend); the SVG is a click away.
	"png":  func(svg string) string { return strings.TrimSuffix(svg, ".svg") + ".png" },
	"join": strings.Join,
	// updates reads a minor wave's recorded updates as "libcore → update/libcore-2".
	"updates": func(raw json.RawMessage) string {
		var ups []struct{ Package, Ref string }
		if json.Unmarshal(raw, &ups) != nil {
			return string(raw)
		}
		parts := make([]string, len(ups))
		for i, u := range ups {
			parts[i] = u.Package + " → " + u.Ref
		}
		return strings.Join(parts, ", ")
	},
}

// withTimeout bounds every page's queries.
func withTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}

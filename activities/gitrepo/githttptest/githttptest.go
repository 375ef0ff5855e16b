package githttptest

import (
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Server is an HTTPS git server on 127.0.0.1 serving the bare repositories under Root
// (Root/name.git is URL + "/name.git") to one user with one password.
type Server struct {
	// URL is https://127.0.0.1:PORT, without credentials.
	URL string
	// CAFile is the server's certificate (PEM), for GIT_SSL_CAINFO.
	CAFile string
	Root   string

	mu           sync.Mutex
	authorized   int
	unauthorized int
	paths        []string
}

// New starts a server for the repositories under root that accepts user and password only;
// it stops when the test ends. Pushes are allowed to that user.
func New(t testing.TB, root, user, password string) *Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("githttptest: git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("githttptest: git http-backend is not installed (Debian: apt-get install git): %v", err)
	}
	s := &Server{Root: root}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.String())
		if !ok || u != user || p != password {
			s.unauthorized++
			s.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="githttptest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.authorized++
		s.mu.Unlock()
		cgiH := &cgi.Handler{
			Path: backend,
			Root: "/",
			Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
				"REMOTE_USER=" + user, "HOME=" + root},
			Stderr: testWriter{t},
		}
		cgiH.ServeHTTP(w, r)
	})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	s.CAFile = filepath.Join(t.TempDir(), "githttptest-ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, certPEM, 0o644); err != nil {
		t.Fatalf("githttptest: %v", err)
	}
	return s
}

// Authorized returns how many requests came with the right credentials.
func (s *Server) Authorized() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authorized
}

// Unauthorized returns how many requests came without them or with wrong ones.
func (s *Server) Unauthorized() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unauthorized
}

// Paths returns the request URLs the server saw, in order.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("git http-backend: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
)

// devState is what a running `crest dev` writes into its data directory so that commands in
// another terminal find it with no flags.
type devState struct {
	PID         int    `json:"pid"`
	Temporal    string `json:"temporal"`
	Namespace   string `json:"namespace"`
	UI          string `json:"ui"`
	DatabaseURL string `json:"database_url"` // the embedded cluster trusts loopback: no password
	TaskQueue   string `json:"task_queue"`
}

const devStateFile = "dev.json"

func readDevState(dataDir string) (devState, bool) {
	var s devState
	b, err := os.ReadFile(filepath.Join(dataDir, devStateFile))
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	// A stale file from a killed crest dev is ignored when its process is gone.
	if s.PID <= 0 || !processAlive(s.PID) {
		return s, false
	}
	return s, true
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}

// temporalAddress resolves the frontend: config, else a running crest dev, else the default.
func (a *app) temporalAddress() (addr, namespace string) {
	if a.cfg.Temporal.Address != "" {
		return a.cfg.Temporal.Address, a.cfg.Temporal.Namespace
	}
	if s, ok := readDevState(a.cfg.DataDir); ok {
		return s.Temporal, s.Namespace
	}
	return fmt.Sprintf("%s:%d", a.cfg.Dev.IP, a.cfg.Dev.TemporalPort), a.cfg.Temporal.Namespace
}

// databaseURL resolves Postgres: config, else a running crest dev.
func (a *app) databaseURL() (string, error) {
	if a.cfg.Database.URL != "" {
		return a.cfg.Database.URL, nil
	}
	if s, ok := readDevState(a.cfg.DataDir); ok && s.DatabaseURL != "" {
		return s.DatabaseURL, nil
	}
	return "", errors.New("no database: set database.url (CREST_DATABASE_URL) or start `crest dev` (data dir " + a.cfg.DataDir + ")")
}

func (a *app) openStore(ctx context.Context) (*store.Store, error) {
	url, err := a.databaseURL()
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, url)
}

// dialTemporal connects a client using config (TLS, API key) and discovery.
func (a *app) dialTemporal(ctx context.Context) (client.Client, error) {
	addr, ns := a.temporalAddress()
	opts := client.Options{HostPort: addr, Namespace: ns, Logger: newSDKLogger(a.cfg)}
	t := a.cfg.Temporal
	if t.TLS.Enabled {
		tc := &tls.Config{ServerName: t.TLS.ServerName, MinVersion: tls.VersionTLS12}
		if t.TLS.CAFile != "" {
			pem, err := os.ReadFile(t.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("temporal.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("temporal.tls.ca_file %s: no certificates", t.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		if t.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.TLS.CertFile, t.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("temporal.tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts.ConnectionOptions.TLS = tc
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w — is `crest dev` running?", addr, ns, err)
	}
	return c, nil
}

package temporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// ErrPortInUse reports that a requested port is taken by another process.
var ErrPortInUse = errors.New("port in use")

const clusterName = "active"

// Options describe the server to run.
type Options struct {
	// DatabaseFile persists state in SQLite; empty keeps everything in memory.
	DatabaseFile string
	// IP the services bind to. Default 127.0.0.1.
	IP string
	// FrontendPort for gRPC clients and workers; 0 picks a free port.
	FrontendPort int
	// UIPort for the Web UI; 0 picks a free port; negative runs no UI.
	UIPort int
	// Namespace to register. Default "default".
	Namespace string
	// SearchAttributes to register in the namespace.
	SearchAttributes map[string]enumspb.IndexedValueType
	// LogFile receives the server's own log (warnings and errors); empty discards it.
	LogFile string
	// DynamicConfig overrides server dynamic config keys.
	DynamicConfig map[string]any
}

// Server is a running embedded Temporal server.
type Server struct {
	server       temporal.Server
	ui           *uiserver.Server
	frontendAddr string
	uiAddr       string
	namespace    string
}

// Start brings up the server and, unless disabled, the Web UI, and returns once the
// frontend accepts requests and the namespace has Crest's search attributes.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	var err error
	if opts.FrontendPort, err = claimPort(opts.IP, opts.FrontendPort, "temporal frontend", "--temporal-port"); err != nil {
		return nil, err
	}
	if opts.UIPort >= 0 {
		if opts.UIPort, err = claimPort(opts.IP, opts.UIPort, "web UI", "--ui-port"); err != nil {
			return nil, err
		}
	}
	if opts.DatabaseFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o755); err != nil {
			return nil, fmt.Errorf("data directory not writable: %w", err)
		}
	}
	s := &Server{
		frontendAddr: net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort)),
		namespace:    opts.Namespace,
	}
	srv, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s.server = srv
	if err := s.ensureSearchAttributes(ctx, opts.SearchAttributes); err != nil {
		s.Stop()
		return nil, err
	}
	if opts.UIPort >= 0 {
		s.uiAddr = net.JoinHostPort(opts.IP, strconv.Itoa(opts.UIPort))
		s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
			Host:                opts.IP,
			Port:                opts.UIPort,
			TemporalGRPCAddress: s.frontendAddr,
			EnableUI:            true,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true, // no network here, and no surprise calls home
			DefaultNamespace:    opts.Namespace,
		}))
		go func() { _ = s.ui.Start() }() // Start blocks; the port was checked above.
		if err := waitHTTP(ctx, "http://"+s.uiAddr+"/"); err != nil {
			s.Stop()
			return nil, fmt.Errorf("web UI on %s: %w", s.uiAddr, err)
		}
	}
	return s, nil
}

// FrontendAddr is the host:port clients and workers dial.
func (s *Server) FrontendAddr() string { return s.frontendAddr }

// UIAddr is the Web UI's host:port ("" without UI).
func (s *Server) UIAddr() string { return s.uiAddr }

// Namespace is the registered namespace.
func (s *Server) Namespace() string { return s.namespace }

// Stop shuts the UI and the server down.
func (s *Server) Stop() {
	if s.ui != nil {
		s.ui.Stop()
	}
	if s.server != nil {
		_ = s.server.Stop()
	}
}

func newServer(opts Options) (temporal.Server, error) {
	sqlConf := config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	if opts.DatabaseFile == "" {
		sqlConf.ConnectAttributes["mode"] = "memory"
		sqlConf.ConnectAttributes["cache"] = "shared"
		sqlConf.DatabaseName = "crest-" + strconv.Itoa(opts.FrontendPort) // unique per process
	} else {
		sqlConf.ConnectAttributes["mode"] = "rwc"
		sqlConf.DatabaseName = opts.DatabaseFile
		if _, err := os.Stat(opts.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(&sqlConf); err != nil {
				return nil, fmt.Errorf("set up temporal schema in %s: %w", opts.DatabaseFile, err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", opts.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(&sqlConf, ns); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}

	ports := map[string]int{"frontend": opts.FrontendPort}
	for _, svc := range []string{"history", "matching", "worker"} {
		p, err := claimPort(opts.IP, 0, svc, "")
		if err != nil {
			return nil, err
		}
		ports[svc] = p
	}
	httpPort, err := claimPort(opts.IP, 0, "frontend http", "")
	if err != nil {
		return nil, err
	}
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = opts.IP
	conf.Persistence.DefaultStore = "sqlite-default"
	conf.Persistence.VisibilityStore = "sqlite-default"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: &sqlConf}}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled:                true,
			InitialFailoverVersion: 1,
			RPCAddress:             net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort)),
			HTTPAddress:            net.JoinHostPort(opts.IP, strconv.Itoa(httpPort)),
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for svc, p := range ports {
		rpc := config.RPC{GRPCPort: p, BindOnIP: opts.IP}
		if svc == "frontend" {
			rpc.HTTPPort = httpPort
		}
		conf.Services[svc] = config.Service{RPC: rpc}
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))

	logger := log.Logger(log.NewNoopLogger())
	if opts.LogFile != "" {
		logger = log.NewZapLogger(log.BuildZapLogger(log.Config{Level: "warn", OutputFile: opts.LogFile, Format: "console"}))
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("temporal claim mapper: %w", err)
	}
	dyn := dynamicconfig.StaticClient{
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// Fresh search attributes are visible at once (tests and first start).
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
	for k, v := range opts.DynamicConfig {
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for svc, p := range ports {
		hosts[primitives.ServiceName(svc)] = static.SingleLocalHost(net.JoinHostPort(opts.IP, strconv.Itoa(p)))
	}
	return temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dyn),
	)
}

// ensureSearchAttributes adds any missing attribute, so a data directory created by an
// older Crest gains the new ones.
func (s *Server) ensureSearchAttributes(ctx context.Context, want map[string]enumspb.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	c, err := client.Dial(client.Options{HostPort: s.frontendAddr, Namespace: s.namespace, Logger: SilentLogger()})
	if err != nil {
		return fmt.Errorf("connect to embedded temporal: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range want {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: s.namespace, SearchAttributes: missing})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// claimPort checks that port is free (or picks one when 0) and names the flag to change it.
func claimPort(ip string, port int, what, flag string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		hint := ""
		if flag != "" {
			hint = fmt.Sprintf(" (is another crest dev or Temporal running? choose another with %s)", flag)
		}
		return 0, fmt.Errorf("%s port %d: %w%s", what, port, ErrPortInUse, hint)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SilentLogger is an SDK logger that drops everything: for setup clients, tests and
// benchmarks, whose output would only be noise.
func SilentLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

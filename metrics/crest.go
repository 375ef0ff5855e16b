package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crestwaves/crest/activities/store"
)

// Crest's own metrics, read from Postgres at every scrape so that any number of workers
// and status sites agree on them (they are the database's state, not one process's).
var (
	descBuilds = prometheus.NewDesc("crest_builds", "Finished builds recorded, by system and result (passed, failed, test-failed).",
		[]string{"system", "result"}, nil)
	descRunning = prometheus.NewDesc("crest_builds_running", "Builds in progress by system: how busy the builders are.",
		[]string{"system"}, nil)
	descDuration = prometheus.NewDesc("crest_build_duration_seconds", "Duration of finished builds (with their tests), by system.",
		[]string{"system"}, nil)
	descSlots = prometheus.NewDesc("crest_builder_slots", "Build slots of the live builders, by system (each build worker announces worker.max_builds).",
		[]string{"system"}, nil)
	descUtilization = prometheus.NewDesc("crest_builder_utilization", "Builds in progress over the live build slots, by system (0 to 1; above 1 while builds outlast their builder's announcement).",
		[]string{"system"}, nil)
	descPending = prometheus.NewDesc("crest_packages_pending", "Packages of minor waves waiting to be built, by system: the ready queue and what waits behind it.",
		[]string{"system"}, nil)
	descWaves     = prometheus.NewDesc("crest_waves", "Major waves by phase.", []string{"phase"}, nil)
	descMinor     = prometheus.NewDesc("crest_minor_waves", "Minor waves by phase.", []string{"phase"}, nil)
	descOutbox    = prometheus.NewDesc("crest_issue_outbox_pending", "Issue events recorded but not yet written to the tracker.", nil, nil)
	descOutboxLag = prometheus.NewDesc("crest_issue_outbox_lag_seconds", "Age of the oldest issue event not yet written to the tracker (0 when none).", nil, nil)
	descUp        = prometheus.NewDesc("crest_store_up", "1 when Crest's metrics could be read from Postgres at this scrape.", nil, nil)
)

// Snapshotter reads Crest's state for metrics (store.Store does).
type Snapshotter interface {
	Metrics(ctx context.Context) (store.MetricsSnapshot, error)
}

// storeCollector reads a snapshot per scrape.
type storeCollector struct {
	st      Snapshotter
	timeout time.Duration
	logger  *slog.Logger
	now     func() time.Time
}

// NewStoreCollector returns the collector of Crest's metrics. A failed read is reported
// as crest_store_up 0 (and logged), never as a failed scrape: the SDK's metrics still count.
func NewStoreCollector(st Snapshotter, logger *slog.Logger) prometheus.Collector {
	if logger == nil {
		logger = slog.Default()
	}
	return &storeCollector{st: st, timeout: 10 * time.Second, logger: logger, now: time.Now}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuilds, descRunning, descSlots, descUtilization, descDuration, descPending, descWaves, descMinor, descOutbox, descOutboxLag, descUp} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	m, err := c.st.Metrics(ctx)
	if err != nil {
		c.logger.Warn("metrics: read Crest's state", "err", err)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	for k, n := range m.Builds {
		ch <- prometheus.MustNewConstMetric(descBuilds, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for system, n := range m.Running {
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, float64(n), system)
	}
	for system, n := range m.Slots {
		ch <- prometheus.MustNewConstMetric(descSlots, prometheus.GaugeValue, float64(n), system)
		ch <- prometheus.MustNewConstMetric(descUtilization, prometheus.GaugeValue, float64(m.Running[system])/float64(n), system)
	}
	for system, h := range m.Durations {
		buckets := make(map[float64]uint64, len(h.Buckets))
		for i, n := range h.Buckets {
			buckets[store.BuildDurationBuckets[i]] = n
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, h.Count, h.Sum, buckets, system)
	}
	for system, n := range m.Pending {
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(n), system)
	}
	for phase, n := range m.Waves {
		ch <- prometheus.MustNewConstMetric(descWaves, prometheus.GaugeValue, float64(n), phase)
	}
	for phase, n := range m.MinorWaves {
		ch <- prometheus.MustNewConstMetric(descMinor, prometheus.GaugeValue, float64(n), phase)
	}
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(m.OutboxPending))
	lag := 0.0
	if !m.OutboxOldest.IsZero() {
		lag = max(0, c.now().Sub(m.OutboxOldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descOutboxLag, prometheus.GaugeValue, lag)
}

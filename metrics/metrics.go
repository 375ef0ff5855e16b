package metrics

import (
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
)

// Registry is one process's metrics: Go runtime and process metrics, whatever is
// registered on it, and the SDK's metrics once SDKHandler is given to a client.
type Registry struct {
	reg *prometheus.Registry
	sdk *sdkVecs
}

// New returns a registry with the Go runtime and process collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg, sdk: &sdkVecs{reg: reg, vecs: map[string]*sdkVec{}}}
}

// Register adds a collector (such as NewStoreCollector's).
func (r *Registry) Register(c prometheus.Collector) error { return r.reg.Register(c) }

// Handler serves the registry in Prometheus' text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// SDKHandler is a Temporal SDK metrics handler (client.Options.MetricsHandler) that
// records on this registry. Counters get Prometheus' _total suffix and timers become
// histograms in seconds (_seconds); names and tags are otherwise the SDK's
// (temporal_workflow_completed_total{namespace, task_queue, workflow_type, …}).
func (r *Registry) SDKHandler() client.MetricsHandler {
	return sdkHandler{vecs: r.sdk}
}

// TimerBuckets are the SDK timers' histogram bounds in seconds: from a poll's
// milliseconds to an hour-long activity.
var TimerBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

type kind int

const (
	counter kind = iota
	gauge
	timer
)

// sdkVecs holds one vector per metric name. Prometheus wants one label set per name while
// the SDK may tag a name differently at different call sites: the first set seen wins,
// missing labels are empty and extra ones dropped.
type sdkVecs struct {
	reg  *prometheus.Registry
	mu   sync.Mutex
	vecs map[string]*sdkVec
}

type sdkVec struct {
	kind   kind
	labels []string
	c      *prometheus.CounterVec
	g      *prometheus.GaugeVec
	h      *prometheus.HistogramVec
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func sanitize(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

func (v *sdkVecs) get(name string, k kind, tags map[string]string) (*sdkVec, prometheus.Labels) {
	v.mu.Lock()
	defer v.mu.Unlock()
	name = sanitize(name)
	switch k {
	case counter:
		if !strings.HasSuffix(name, "_total") {
			name += "_total"
		}
	case timer:
		name += "_seconds"
	}
	vec, ok := v.vecs[name]
	if !ok {
		vec = &sdkVec{kind: k}
		for _, key := range slices.Sorted(maps.Keys(tags)) {
			vec.labels = append(vec.labels, sanitize(key))
		}
		help := "Temporal SDK metric " + name + "."
		var c prometheus.Collector
		switch k {
		case counter:
			vec.c = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, vec.labels)
			c = vec.c
		case gauge:
			vec.g = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, vec.labels)
			c = vec.g
		case timer:
			vec.h = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: TimerBuckets}, vec.labels)
			c = vec.h
		}
		if err := v.reg.Register(c); err != nil {
			vec = nil // a name clash with another collector: this metric is not exported
		}
		v.vecs[name] = vec
	}
	if vec == nil || vec.kind != k {
		return nil, nil
	}
	labels := prometheus.Labels{}
	for _, l := range vec.labels {
		labels[l] = ""
	}
	for key, val := range tags {
		if _, ok := labels[sanitize(key)]; ok {
			labels[sanitize(key)] = val
		}
	}
	return vec, labels
}

type sdkHandler struct {
	vecs *sdkVecs
	tags map[string]string
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	maps.Copy(merged, h.tags)
	maps.Copy(merged, tags)
	return sdkHandler{vecs: h.vecs, tags: merged}
}

func (h sdkHandler) Counter(name string) client.MetricsCounter {
	vec, labels := h.vecs.get(name, counter, h.tags)
	if vec == nil {
		return client.MetricsNopHandler.Counter(name)
	}
	c := vec.c.With(labels)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	vec, labels := h.vecs.get(name, gauge, h.tags)
	if vec == nil {
		return client.MetricsNopHandler.Gauge(name)
	}
	g := vec.g.With(labels)
	return gaugeFunc(g.Set)
}

func (h sdkHandler) Timer(name string) client.MetricsTimer {
	vec, labels := h.vecs.get(name, timer, h.tags)
	if vec == nil {
		return client.MetricsNopHandler.Timer(name)
	}
	o := vec.h.With(labels)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

// Package metrics is a small Prometheus text-format (version 0.0.4)
// registry: counters and histograms with labels, and gauges read from a
// function when scraped. It imports only the standard library.
package metrics

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families and writes them in the text format.
type Registry struct {
	mu   sync.Mutex
	fams []family
}

type family interface {
	write(w io.Writer)
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fams = append(r.fams, f)
}

// Write writes every family in registration order.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	fams := slices.Clone(r.fams)
	r.mu.Unlock()
	for _, f := range fams {
		f.write(w)
	}
}

// Handler serves the registry as text/plain; version=0.0.4.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.Write(w)
	})
}

// labelSet renders names and values as {a="x",b="y"}, escaped.
func labelSet(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	parts := make([]string, 0, len(names)+1)
	for i, n := range names {
		parts = append(parts, n+`="`+escape(values[i])+`"`)
	}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ",") + "}"
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escape(s string) string { return escaper.Replace(s) }

func header(w io.Writer, name, help, kind string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// CounterVec is a counter per combination of label values.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	vals       map[labelKey]*counter
}

// maxLabels bounds a family's label names, so a series' key is an array
// (no allocation per increment).
const maxLabels = 3

type labelKey [maxLabels]string

type counter struct {
	values []string
	n      float64
}

// Counter registers a counter family with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	if len(labels) > maxLabels {
		panic(fmt.Sprintf("metrics: %s has %d labels, at most %d", name, len(labels), maxLabels))
	}
	c := &CounterVec{name: name, help: help, labels: labels, vals: map[labelKey]*counter{}}
	r.add(c)
	return c
}

// Add adds v to the series with values (one per label name).
func (c *CounterVec) Add(v float64, values ...string) {
	if len(values) != len(c.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", c.name, len(c.labels), len(values)))
	}
	var key labelKey
	copy(key[:], values)
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.vals[key]
	if !ok {
		s = &counter{values: slices.Clone(values)}
		c.vals[key] = s
	}
	s.n += v
}

// Inc adds one.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

func (c *CounterVec) write(w io.Writer) {
	header(w, c.name, c.help, "counter")
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.labels) == 0 && len(c.vals) == 0 {
		fmt.Fprintf(w, "%s 0\n", c.name)
	}
	series := slices.SortedFunc(maps.Values(c.vals), func(a, b *counter) int { return slices.Compare(a.values, b.values) })
	for _, s := range series {
		fmt.Fprintf(w, "%s%s %s\n", c.name, labelSet(c.labels, s.values), formatFloat(s.n))
	}
}

// GaugeFunc registers a gauge whose value is read from fn at each scrape.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.add(gaugeFunc{name: name, help: help, fn: fn})
}

type gaugeFunc struct {
	name, help string
	fn         func() float64
}

func (g gaugeFunc) write(w io.Writer) {
	header(w, g.name, g.help, "gauge")
	fmt.Fprintf(w, "%s %s\n", g.name, formatFloat(g.fn()))
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	name, help string
	bounds     []float64
	mu         sync.Mutex
	counts     []uint64 // per bound, not cumulative; one more for +Inf
	sum        float64
	n          uint64
}

// Histogram registers a histogram with ascending bucket upper bounds.
func (r *Registry) Histogram(name, help string, bounds []float64) *Histogram {
	h := &Histogram{name: name, help: help, bounds: bounds, counts: make([]uint64, len(bounds)+1)}
	r.add(h)
	return h
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[i]++
	h.sum += v
	h.n++
}

func (h *Histogram) write(w io.Writer) {
	header(w, h.name, h.help, "histogram")
	h.mu.Lock()
	defer h.mu.Unlock()
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", h.name, formatFloat(b), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", h.name, h.n, h.name, formatFloat(h.sum), h.name, h.n)
}

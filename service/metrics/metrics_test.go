package metrics

import (
	"math"
	"strings"
	"testing"
)

func TestTextFormat(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("x_total", "Things.", "route", "status")
	c.Inc("GET /a", "200")
	c.Add(2, `we"ird\`+"\n", "500")
	r.Counter("plain_total", "No labels.")
	r.GaugeFunc("g", "A gauge.", func() float64 { return 3 })
	h := r.Histogram("d_seconds", "Durations.", []float64{0.1, 1})
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(math.Inf(1))
	var b strings.Builder
	r.Write(&b)
	want := `# HELP x_total Things.
# TYPE x_total counter
x_total{route="GET /a",status="200"} 1
x_total{route="we\"ird\\\n",status="500"} 2
# HELP plain_total No labels.
# TYPE plain_total counter
plain_total 0
# HELP g A gauge.
# TYPE g gauge
g 3
# HELP d_seconds Durations.
# TYPE d_seconds histogram
d_seconds_bucket{le="0.1"} 1
d_seconds_bucket{le="1"} 2
d_seconds_bucket{le="+Inf"} 3
d_seconds_sum +Inf
d_seconds_count 3
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

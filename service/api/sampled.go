package api

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/secure-movie-service/sms/service/limit"
)

// SampledLog writes at most a rate-limited number of lines of one kind; the
// next line written says how many were left out since the last one, so a
// flood costs a bounded number of lines and no count is lost. As an
// io.Writer it serves as http.Server's ErrorLog (one line per failed TLS
// handshake otherwise).
type SampledLog struct {
	log   *slog.Logger
	lines *limit.Limiter

	mu         sync.Mutex
	suppressed int
}

// NewSampledLog returns a SampledLog of at most perSecond lines a second,
// burst at once.
func NewSampledLog(log *slog.Logger, perSecond float64, burst int) *SampledLog {
	return &SampledLog{log: log, lines: limit.New(perSecond, burst, 1, nil)}
}

// Write logs p, one line of the standard log package.
func (s *SampledLog) Write(p []byte) (int, error) {
	s.Info(strings.TrimSpace(string(p)), "log", "error")
	return len(p), nil
}

// Info logs msg with attrs unless the line budget is spent.
func (s *SampledLog) Info(msg string, attrs ...any) {
	if ok, _ := s.lines.Allow(""); !ok {
		s.mu.Lock()
		s.suppressed++
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	n := s.suppressed
	s.suppressed = 0
	s.mu.Unlock()
	if n > 0 {
		attrs = append(attrs, "suppressed_before", n)
	}
	s.log.Info(msg, attrs...)
}

// maxRefusalAddrs bounds the addresses one refusal summary names; the rest
// are counted together.
const maxRefusalAddrs = 100

// refusals counts rate-limited (429) requests per client address and writes
// one summary line per interval instead of an access line per refusal, so a
// flood costs the log a line per interval.
type refusals struct {
	log   *slog.Logger
	every time.Duration

	mu     sync.Mutex
	counts map[string]int
	others int // refusals from addresses past maxRefusalAddrs
	total  int
}

func newRefusals(log *slog.Logger, every time.Duration) *refusals {
	return &refusals{log: log, every: every, counts: map[string]int{}}
}

// add counts one refusal; the first of an interval schedules its summary.
func (r *refusals) add(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.total == 0 {
		time.AfterFunc(r.every, r.flush)
	}
	r.total++
	if _, ok := r.counts[addr]; ok || len(r.counts) < maxRefusalAddrs {
		r.counts[addr]++
	} else {
		r.others++
	}
}

func (r *refusals) flush() {
	r.mu.Lock()
	counts, others, total := r.counts, r.others, r.total
	r.counts, r.others, r.total = map[string]int{}, 0, 0
	r.mu.Unlock()
	r.log.Warn("requests refused", "log", "access", "status", 429, "interval_s", r.every.Seconds(),
		"total", total, "by_client_ip", counts, "other_clients", others)
}

package api

import (
	"log/slog"
	"sync"
	"time"

	"github.com/secure-movie-service/sms/service/limit"
)

// sampledLog writes at most a rate-limited number of lines of one kind; the
// next line written says how many were left out since the last one, so a
// flood costs a bounded number of lines and no count is lost.
type sampledLog struct {
	log   *slog.Logger
	lines *limit.Limiter

	mu         sync.Mutex
	suppressed int
}

func newSampledLog(log *slog.Logger, perSecond float64, burst int, now func() time.Time) *sampledLog {
	return &sampledLog{log: log, lines: limit.New(perSecond, burst, 1, now)}
}

// Info logs msg with attrs unless the line budget is spent.
func (s *sampledLog) Info(msg string, attrs ...any) {
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

package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

func healthz(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// check is one readiness condition.
type check struct {
	name string
	fn   func(context.Context) error
}

// readyz reports ready when every check passes (the store accepts writes
// and OPA answers).
func readyz(log *slog.Logger, checks ...check) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var down []string
		for _, c := range checks {
			if err := c.fn(ctx); err != nil {
				down = append(down, c.name)
				log.Warn("not ready", "log", "error", "request_id", info(r).id, "check", c.name, "error", err.Error())
			}
		}
		if down != nil {
			return &httpError{status: http.StatusServiceUnavailable, detail: "not ready: " + strings.Join(down, " and ") + " unavailable",
				header: map[string]string{"Retry-After": "1"}}
		}
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

func openapi(doc []byte) handlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(doc)
		return nil
	}
}

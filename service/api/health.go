package api

import (
	"context"
	"net/http"
	"strings"
	"time"
)

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// readyz reports ready when the store accepts writes and OPA answers.
func readyz(c *Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var down []string
		for _, check := range []struct {
			name string
			fn   func(context.Context) error
		}{{"store", c.Store.Ready}, {"opa", c.Authorizer.Ping}} {
			if err := check.fn(ctx); err != nil {
				down = append(down, check.name)
				c.Logger.Warn("not ready", "log", "error", "request_id", info(r).id, "check", check.name, "error", err.Error())
			}
		}
		if down != nil {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, http.StatusServiceUnavailable, "not ready: "+strings.Join(down, " and ")+" unavailable", nil)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func openapi(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(doc)
	})
}

package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/secure-movie-service/sms/pipeline/ociutil"
)

// Routes lists every route: the review endpoint and the probes.
func (w *Webhook) Routes(ready *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /validate", w.handleReview())
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(rw, "ok\n") })
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(rw, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(rw, "ok\n")
	})
	return mux
}

// handleReview decodes one AdmissionReview, decides it, logs the decision and answers. A
// request that is not a well-formed review gets a 4xx, which the API server (failurePolicy
// Fail) turns into a denial.
func (w *Webhook) handleReview() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			w.refuse(rw, http.StatusUnsupportedMediaType, errors.New("content type is not application/json"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxReviewBytes))
		if err != nil {
			w.refuse(rw, http.StatusRequestEntityTooLarge, fmt.Errorf("read review: %w", err))
			return
		}
		rev, err := DecodeReview(body)
		if err != nil {
			w.refuse(rw, http.StatusBadRequest, err)
			return
		}
		d := w.Review(r.Context(), rev.Request)
		w.logDecision(r.Context(), rev.Request, d, time.Since(start))
		rw.Header().Set("Content-Type", "application/json")
		out := Review{APIVersion: APIVersion, Kind: Kind, Response: d.Response}
		if err := json.NewEncoder(rw).Encode(out); err != nil {
			w.o.Logger.Error("write review response", "uid", rev.Request.UID, "err", err.Error())
		}
	})
}

func (w *Webhook) refuse(rw http.ResponseWriter, status int, err error) {
	w.o.Logger.Warn("review refused", "status", status, "err", err.Error())
	http.Error(rw, http.StatusText(status), status)
}

// logDecision writes one JSON line per decision.
func (w *Webhook) logDecision(ctx context.Context, req *Request, d *Decision, took time.Duration) {
	verdict, reasons, warns, images, digests := "deny", []string{}, []string{}, []string{}, []string{}
	if d.Response.Allowed {
		verdict = "allow"
	}
	if v := d.Verdict; v != nil {
		images = v.Images
		for _, r := range v.Deny {
			reasons = append(reasons, r.Code)
		}
		for _, r := range v.Warn {
			warns = append(warns, r.Code)
		}
		for _, ref := range v.Images {
			if dg, err := ociutil.ParseDigest(ref); err == nil {
				digests = append(digests, dg.DigestStr())
			}
		}
	}
	attrs := []slog.Attr{
		slog.String("uid", req.UID), slog.String("namespace", req.Namespace),
		slog.String("kind", req.Kind.Kind), slog.String("name", objectName(req)),
		slog.String("operation", req.Operation), slog.String("subresource", req.SubResource),
		slog.String("user", req.UserInfo.Username),
		slog.Any("images", images), slog.Any("digests", digests), slog.String("verdict", verdict),
		slog.Any("reasons", reasons), slog.Any("warnings", warns),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
	}
	if d.Err != nil {
		attrs = append(attrs, slog.String("error", d.Err.Error()))
	}
	w.o.Logger.LogAttrs(ctx, slog.LevelInfo, "admission", attrs...)
}

// objectName is the request's name, or the object's generateName prefix on CREATE.
func objectName(req *Request) string {
	if req.Name != "" {
		return req.Name
	}
	var o struct {
		Metadata struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	if json.Unmarshal(req.Object, &o) == nil {
		if o.Metadata.Name != "" {
			return o.Metadata.Name
		}
		return strings.TrimSuffix(o.Metadata.GenerateName, "-") + "-*"
	}
	return ""
}

// ServeOptions configure Serve.
type ServeOptions struct {
	Addr              string // host:port; port 0 picks one
	CertFile, KeyFile string
	ShutdownTimeout   time.Duration
	// Listening is called with the bound address once the server accepts connections.
	Listening func(addr string)
}

// Serve answers reviews over TLS until ctx ends, then shuts down gracefully: readiness
// fails first, requests in flight finish (up to ShutdownTimeout).
func (w *Webhook) Serve(ctx context.Context, o ServeOptions) error {
	certs, err := newCertReloader(o.CertFile, o.KeyFile, w.o.Logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Addr, err)
	}
	var ready atomic.Bool
	srv := &http.Server{
		Handler:           w.Routes(&ready),
		TLSConfig:         certs.tlsConfig(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      w.o.Timeout + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(w.o.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	ready.Store(true)
	w.o.Logger.Info("serving", "addr", ln.Addr().String())
	if o.Listening != nil {
		o.Listening(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	w.o.Logger.Info("stopped")
	return nil
}

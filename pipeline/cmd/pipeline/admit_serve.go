package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/webhook"
)

// runAdmitServe is `pipeline admit serve`: flag wiring for pipeline/webhook.
func runAdmitServe(ctx context.Context, a *app, args []string) error {
	fs := a.flags("admit serve", "--tls-cert FILE --tls-key FILE (--key cosign.pub | --trusted-root FILE) [--data FILE …] [flags]")
	var (
		tr    trust
		data  policyData
		limit registryCap
	)
	tr.register(fs)
	data.register(fs)
	limit.register(fs)
	addr := fs.String("addr", ":8443", "HTTPS listen `address`")
	cert := fs.String("tls-cert", "", "TLS certificate `FILE` (PEM; read again when it changes)")
	key := fs.String("tls-key", "", "TLS private key `FILE` (PEM; read again when it changes)")
	dockerConfig := fs.String("docker-config", "", "Docker config.json `FILE` with registry credentials (read again when it changes); default: anonymous")
	timeout := fs.Duration("timeout", 8*time.Second, "each review's deadline: keep it below the webhook's timeoutSeconds")
	ttl := fs.Duration("cache-ttl", 10*time.Minute, "how long a verified digest is reused")
	negTTL := fs.Duration("negative-cache-ttl", 30*time.Second, "how long a failed verification is reused")
	size := fs.Int("cache-size", 1024, "verification results kept (least recently used go first)")
	grace := fs.Duration("shutdown-timeout", 20*time.Second, "how long requests in flight may finish on SIGTERM")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *cert == "" || *key == "" {
		fs.Usage()
		return fmt.Errorf("%w: --tls-cert and --tls-key are required", errUsage)
	}
	if err := limit.check(); err != nil {
		return err
	}
	ks, kl, err := tr.load()
	if err != nil {
		return err
	}
	overlays, err := data.load()
	if err != nil {
		return err
	}
	ev, err := admit.NewEvaluator(overlays...)
	if err != nil {
		return err
	}
	o := webhook.Options{
		Keys: ks, Keyless: kl, Evaluator: ev, Timeout: *timeout, MaxRegistryBytes: limit.bytes,
		Cache:  webhook.CacheOptions{Size: *size, TTL: *ttl, NegativeTTL: *negTTL},
		Logger: slog.New(slog.NewJSONHandler(a.stderr, nil)),
	}
	if *dockerConfig != "" {
		if o.Keychain, err = webhook.NewDockerConfigKeychain(*dockerConfig); err != nil {
			return err
		}
	}
	w, err := webhook.New(o)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return w.Serve(ctx, webhook.ServeOptions{Addr: *addr, CertFile: *cert, KeyFile: *key, ShutdownTimeout: *grace})
}

package webhook

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
)

// certReloader serves the certificate in certFile and keyFile, read again whenever either
// file changes (cert-manager and kubelet rotate mounted Secrets in place). A pair that fails
// to load keeps the previous one in service and is logged.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	mu                sync.Mutex
	stamp             string
	cert              *tls.Certificate
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := r.get(nil); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := stamp(r.certFile, r.keyFile)
	if err == nil && st == r.stamp {
		return r.cert, nil
	}
	if err == nil {
		var c tls.Certificate
		if c, err = tls.LoadX509KeyPair(r.certFile, r.keyFile); err == nil {
			r.stamp, r.cert = st, &c
			r.log.Info("tls certificate loaded", "cert", r.certFile)
			return r.cert, nil
		}
	}
	if r.cert == nil {
		return nil, fmt.Errorf("load tls certificate: %w", err)
	}
	r.log.Error("tls certificate reload failed; keeping the previous one", "err", err.Error())
	return r.cert, nil
}

// tlsConfig is TLS 1.2 or later with the reloaded certificate.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get, NextProtos: []string{"h2", "http/1.1"}}
}

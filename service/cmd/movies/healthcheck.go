package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// healthcheck probes /healthz and returns nil only on 200. The image has
// no shell or curl, so this is what HEALTHCHECK and probes run.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("movies healthcheck", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the server")
	caFile := fs.String("tls-cert", "", "the server's certificate (PEM); probe over HTTPS trusting it")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{Proxy: nil}}
	url := "http://" + *addr + "/healthz"
	if *caFile != "" {
		pemBytes, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		block, _ := pem.Decode(pemBytes)
		if block == nil || !pool.AppendCertsFromPEM(pemBytes) {
			return fmt.Errorf("%s: no certificate", *caFile)
		}
		client.Transport = &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: serverName(block.Bytes, *addr)}}
		url = "https://" + *addr + "/healthz"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: status %d", resp.StatusCode)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}

// serverName picks the name to verify the server's certificate against:
// its first DNS name, else the host we dial.
func serverName(der []byte, addr string) string {
	if cert, err := x509.ParseCertificate(der); err == nil && len(cert.DNSNames) > 0 {
		return cert.DNSNames[0]
	}
	host, _, _ := net.SplitHostPort(addr)
	return host
}

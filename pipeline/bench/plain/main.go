// Command plain is the baseline of the API benchmarks (BenchmarkAPIvsPlain and
// pipeline/bench/api-wrk.sh): a plain net/http handler (no middleware, no
// timeouts) serving fixed bytes per path, as the movies API served them, with
// the Content-Type it sent. With -headers it also sends, per path, the header
// fields the API sent with those bytes: the ceiling the API's response
// contract alone leaves it. It prints its URL on a line of its own once it
// listens.
//
//	plain -addr 127.0.0.1:PORT -bodies FILE [-headers FILE]
//
// -bodies: a JSON object of path → base64 body; -headers: of path → header
// fields (name → values) as the API answered, less those net/http writes
// itself (Date, Content-Length, Connection).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (loopback)")
	bodiesPath := flag.String("bodies", "", "JSON object of request path → body (base64)")
	headersPath := flag.String("headers", "", "JSON object of request path → response header fields to send (optional)")
	flag.Parse()
	var bodies map[string][]byte
	headers := map[string]http.Header{}
	if err := load(*bodiesPath, &bodies); err != nil {
		fail(err)
	}
	if *headersPath != "" {
		if err := load(*headersPath, &headers); err != nil {
			fail(err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	jsonType := []string{"application/json; charset=utf-8"}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // #nosec G114 -- a benchmark baseline on loopback, deliberately without the service's timeouts
		h := w.Header()
		h["Content-Type"] = jsonType
		for k, v := range headers[r.URL.Path] {
			h[k] = v
		}
		w.Write(bodies[r.URL.Path])
	}))
	fail(err)
}

func load(path string, v any) error {
	raw, err := os.ReadFile(path) // #nosec G304 -- the files the benchmark run names on the command line
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

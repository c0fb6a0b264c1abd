// Command plain is the baseline of the API benchmarks (BenchmarkAPIvsPlain and
// pipeline/bench/api-wrk.sh): a plain net/http handler (no middleware, no
// timeouts) serving fixed bytes per path, as the movies API served them, with
// the Content-Type it sent. It prints its URL on a line of its own once it
// listens.
//
//	plain -addr 127.0.0.1:PORT -bodies FILE   (FILE: a JSON object of path → base64 body)
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
	path := flag.String("bodies", "", "JSON object of request path → body (base64)")
	flag.Parse()
	raw, err := os.ReadFile(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var bodies map[string][]byte
	if err := json.Unmarshal(raw, &bodies); err != nil {
		fmt.Fprintln(os.Stderr, "bodies:", err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // #nosec G114 -- a benchmark baseline on loopback, deliberately without the service's timeouts
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(bodies[r.URL.Path])
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

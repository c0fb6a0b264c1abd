package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
)

// plainEnv names, in a child started by the benchmark, the file of bodies the child serves
// as the plain handler, in a process of its own as the movies binary is.
const plainEnv = "SMS_BENCH_PLAIN_BODIES"

// servePlainIfAsked serves the plain handler forever when the process was started as one.
func servePlainIfAsked() {
	path := os.Getenv(plainEnv)
	if path == "" {
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var bodies map[string][]byte
	if err := json.Unmarshal(raw, &bodies); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(bodies[r.URL.Path])
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

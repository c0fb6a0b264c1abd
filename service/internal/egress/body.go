package egress

import (
	"compress/gzip"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// checkStatus accepts 200 only. 429 and 503 carry the upstream's
// Retry-After, bounded.
func checkStatus(resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	e := &StatusError{Code: resp.StatusCode}
	if e.Code == http.StatusTooManyRequests || e.Code == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return e
}

// retryAfter reads Retry-After (seconds or an HTTP date) and bounds it to
// [1s, 10m]; 30s when it is missing or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	d := 30 * time.Second
	if s, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, time.Second), 10*time.Minute)
}

// checkContentType accepts application/json in UTF-8 only.
func checkContentType(v string) error {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return fmt.Errorf("%w: content type %s is not application/json", ErrBadResponse, strconv.QuoteToASCII(truncate(v, 64)))
	}
	return nil
}

// readBody reads at most max bytes off the wire and, when gzip-encoded, at
// most max bytes out of the decompressor: a declared, sent or inflated size
// over max is ErrTooLarge, so neither a huge body nor a gzip bomb costs
// more than max bytes of memory.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: %d bytes declared, at most %d accepted", ErrTooLarge, resp.ContentLength, max)
	}
	var r io.Reader = &capped{r: resp.Body, left: max}
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, wrapRead(err)
		}
		defer gz.Close()
		r = &capped{r: gz, left: max}
	default:
		return nil, fmt.Errorf("%w: content encoding %s", ErrBadResponse, strconv.QuoteToASCII(truncate(enc, 32)))
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, wrapRead(err)
	}
	return body, nil
}

// wrapRead marks a broken gzip stream as a bad response; other read errors
// (deadline, reset, ErrTooLarge) keep their own meaning for classify.
func wrapRead(err error) error {
	if err == gzip.ErrHeader || err == gzip.ErrChecksum || err == io.ErrUnexpectedEOF || err == io.EOF {
		return fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return err
}

// capped reads from r and fails with ErrTooLarge once more than left bytes
// came through.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, fmt.Errorf("%w: more than the cap", ErrTooLarge)
	}
	return n, err
}

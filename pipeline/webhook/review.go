package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// AdmissionReview v1, as the API server sends and expects it. Only the fields of
// admission.k8s.io/v1 exist here: decoding refuses any other.
const (
	APIVersion = "admission.k8s.io/v1"
	Kind       = "AdmissionReview"
	// MaxReviewBytes bounds a request body. The API server refuses objects over 3 MiB, and
	// an UPDATE review carries the object twice.
	MaxReviewBytes = 7 << 20
	maxUID         = 128
)

// ErrMalformed is wrapped by DecodeReview for every request it refuses.
var ErrMalformed = errors.New("malformed AdmissionReview")

// Review is an AdmissionReview: Request from the API server, Response from the webhook.
type Review struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Request    *Request  `json:"request,omitempty"`
	Response   *Response `json:"response,omitempty"`
}

// GroupVersionKind names a kind.
type GroupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// GroupVersionResource names a resource.
type GroupVersionResource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

// UserInfo is who made the request. It is logged, never used for a decision or credentials.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// Request is an AdmissionRequest.
type Request struct {
	UID                string                `json:"uid"`
	Kind               GroupVersionKind      `json:"kind"`
	Resource           GroupVersionResource  `json:"resource"`
	SubResource        string                `json:"subResource,omitempty"`
	RequestKind        *GroupVersionKind     `json:"requestKind,omitempty"`
	RequestResource    *GroupVersionResource `json:"requestResource,omitempty"`
	RequestSubResource string                `json:"requestSubResource,omitempty"`
	Name               string                `json:"name,omitempty"`
	Namespace          string                `json:"namespace,omitempty"`
	Operation          string                `json:"operation"`
	UserInfo           UserInfo              `json:"userInfo"`
	Object             json.RawMessage       `json:"object,omitempty"`
	OldObject          json.RawMessage       `json:"oldObject,omitempty"`
	DryRun             *bool                 `json:"dryRun,omitempty"`
	Options            json.RawMessage       `json:"options,omitempty"`
}

// Response is an AdmissionResponse.
type Response struct {
	UID      string   `json:"uid"`
	Allowed  bool     `json:"allowed"`
	Status   *Status  `json:"status,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Status is the part of a metav1.Status a denial carries.
type Status struct {
	Code    int32  `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

var operations = map[string]bool{"CREATE": true, "UPDATE": true, "DELETE": true, "CONNECT": true}

// DecodeReview reads one AdmissionReview request strictly: exactly one JSON value, no
// duplicate or unknown keys, admission.k8s.io/v1, a request with a uid and a known operation,
// no response, and an object for CREATE and UPDATE.
func DecodeReview(b []byte) (*Review, error) {
	if len(b) > MaxReviewBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxReviewBytes)
	}
	if err := predicate.Unambiguous(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Review
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the review", ErrMalformed)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &r, nil
}

func (r *Review) check() error {
	switch {
	case r.APIVersion != APIVersion || r.Kind != Kind:
		return fmt.Errorf("apiVersion %q kind %q, want %s %s", r.APIVersion, r.Kind, APIVersion, Kind)
	case r.Request == nil:
		return errors.New("no request")
	case r.Response != nil:
		return errors.New("a request carries no response")
	case r.Request.UID == "" || len(r.Request.UID) > maxUID:
		return errors.New("request uid is empty or too long")
	case !operations[r.Request.Operation]:
		return fmt.Errorf("operation %q", r.Request.Operation)
	case (r.Request.Operation == "CREATE" || r.Request.Operation == "UPDATE") && isNull(r.Request.Object):
		return fmt.Errorf("%s without an object", r.Request.Operation)
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

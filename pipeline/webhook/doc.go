// Package webhook is admission in the cluster: an HTTPS endpoint for Kubernetes
// AdmissionReview v1 (`pipeline admit serve`) that runs the same verification
// (pipeline/verify) and the same policy (policy/admission, through pipeline/admit) as
// `pipeline admit`, live against the registry, for every pod-bearing kind and for the
// pods/ephemeralcontainers subresource.
//
// What it guarantees:
//   - Pinning and the registry allowlist are decided by the policy before any network access:
//     a tag or a foreign registry is denied without a single registry request.
//   - Verification results are cached per image digest (positive and negative, bounded size,
//     TTLs), and concurrent reviews of one digest share one registry fetch.
//   - Every review has its own deadline, below the API server's timeoutSeconds; the bytes read
//     from a registry per verification are capped; registry credentials come only from a
//     mounted Docker config file, never from the request.
//   - Fail closed: any error, timeout or malformed request denies. Nothing but a policy
//     decision that allows ever answers allowed: true.
//
// It must not import the service's packages (service/...): the toolkit admits the service,
// it never runs inside it.
package webhook

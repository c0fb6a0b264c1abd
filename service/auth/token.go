package auth

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Token is a bearer token that cannot be logged or printed by accident: every
// fmt verb, [log/slog] and text or JSON encoding show "[REDACTED]". Convert
// it with string(t) where the raw token is really needed.
type Token string

// LogValue implements [slog.LogValuer].
func (Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// String implements [fmt.Stringer].
func (Token) String() string { return redacted }

// GoString implements [fmt.GoStringer].
func (Token) GoString() string { return redacted }

// Format implements [fmt.Formatter] so that no verb, not even a wrong one
// such as %d, prints the token.
func (Token) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalText implements [encoding.TextMarshaler], which encoding/json uses.
func (Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }

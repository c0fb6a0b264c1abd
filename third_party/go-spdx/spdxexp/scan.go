package spdxexp

import (
	"fmt"
	"strings"
)

type tokenKind int

const (
	tokIdent  tokenKind = iota // an idstring, possibly with a DocumentRef-…: prefix
	tokPlus                    // "+" directly after a license id
	tokAnd                     // AND / and
	tokOr                      // OR / or
	tokWith                    // WITH / with
	tokLParen                  // (
	tokRParen                  // )
)

type token struct {
	kind tokenKind
	text string
	pos  int // byte offset in the expression, for error messages
}

// maxTokens bounds the work done on one expression; real expressions are far shorter.
const maxTokens = 4096

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// scan splits an expression into tokens. Identifiers are runs of idstring characters; a
// colon is allowed once, for DocumentRef-x:LicenseRef-y.
func scan(expr string) ([]token, error) {
	var toks []token
	for i := 0; i < len(expr); {
		if len(toks) >= maxTokens {
			return nil, fmt.Errorf("expression longer than %d tokens", maxTokens)
		}
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == '+':
			if i == 0 || !isIDChar(expr[i-1]) {
				return nil, fmt.Errorf("'+' at offset %d does not follow a license id", i)
			}
			toks = append(toks, token{tokPlus, "+", i})
			i++
		case isIDChar(c):
			j := i
			colons := 0
			for j < len(expr) && (isIDChar(expr[j]) || expr[j] == ':') {
				if expr[j] == ':' {
					colons++
				}
				j++
			}
			word := expr[i:j]
			if colons > 1 || strings.HasSuffix(word, ":") {
				return nil, fmt.Errorf("malformed reference %q at offset %d", word, i)
			}
			toks = append(toks, token{operatorKind(word), word, i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
		}
	}
	return toks, nil
}

// operatorKind classifies a word: operators are all upper or all lower case ("AND", "and"),
// anything else is an identifier.
func operatorKind(word string) tokenKind {
	switch word {
	case "AND", "and":
		return tokAnd
	case "OR", "or":
		return tokOr
	case "WITH", "with":
		return tokWith
	}
	return tokIdent
}

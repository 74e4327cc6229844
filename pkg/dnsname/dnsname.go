// Package dnsname normalizes and compares DNS names the way both the control
// plane and the edge store them: lower-case, fully qualified (trailing dot),
// at most 253 characters of text and 63 per label.
package dnsname

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Limits from RFC 1035, in presentation form without the trailing dot.
const (
	MaxLabelLen = 63
	MaxNameLen  = 253
)

// Errors returned by Normalize and Qualify; wrapped with the offending name.
var (
	ErrEmpty       = errors.New("empty name")
	ErrTooLong     = errors.New("name longer than 253 characters")
	ErrLabelLong   = errors.New("label longer than 63 characters")
	ErrEmptyLabel  = errors.New("empty label")
	ErrInvalidChar = errors.New("invalid character")
	ErrOutsideZone = errors.New("name is not inside the zone")
)

// Normalize returns name lower-cased and fully qualified. Labels may hold
// letters, digits, hyphens, underscores and "*" (a wildcard only as the whole
// first label; elsewhere it is a literal, as the source documents say).
func Normalize(name string) (string, error) {
	if name == "" {
		return "", ErrEmpty
	}
	if name == "." {
		return ".", nil
	}
	n := strings.TrimSuffix(name, ".")
	if len(n) > MaxNameLen {
		return "", fmt.Errorf("%q: %w", name, ErrTooLong)
	}
	var b strings.Builder
	b.Grow(len(n) + 1)
	labelLen := 0
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c == '.':
			if labelLen == 0 {
				return "", fmt.Errorf("%q: %w", name, ErrEmptyLabel)
			}
			labelLen = 0
			b.WriteByte(c)
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '*':
		default:
			return "", fmt.Errorf("%q: %w %q", name, ErrInvalidChar, c)
		}
		labelLen++
		if labelLen > MaxLabelLen {
			return "", fmt.Errorf("%q: %w", name, ErrLabelLong)
		}
		b.WriteByte(c)
	}
	if labelLen == 0 {
		return "", fmt.Errorf("%q: %w", name, ErrEmptyLabel)
	}
	b.WriteByte('.')
	return b.String(), nil
}

// Qualify resolves a record name given relative to zone (normalized): "@"
// is the apex, a name ending in the zone (with or without the trailing dot)
// is taken as is, anything else is relative to the zone. The result is
// normalized and must be inside the zone.
func Qualify(name, zone string) (string, error) {
	switch {
	case name == "@" || name == "":
		return zone, nil
	case strings.HasSuffix(name, "."):
		n, err := Normalize(name)
		if err != nil {
			return "", err
		}
		if !IsSubdomain(n, zone) {
			return "", fmt.Errorf("%q: %w %q", name, ErrOutsideZone, zone)
		}
		return n, nil
	}
	lower := strings.ToLower(name)
	apex := strings.TrimSuffix(zone, ".")
	if lower == apex || strings.HasSuffix(lower, "."+apex) {
		return Normalize(name)
	}
	if zone == "." {
		return Normalize(name)
	}
	return Normalize(name + "." + zone)
}

// IsSubdomain reports whether child is parent or below it. Both must be
// normalized.
func IsSubdomain(child, parent string) bool {
	if parent == "." {
		return true
	}
	if len(child) < len(parent) {
		return false
	}
	if len(child) == len(parent) {
		return child == parent
	}
	return child[len(child)-len(parent)-1] == '.' && child[len(child)-len(parent):] == parent
}

// Parent returns the name one label up; the parent of "." is ".".
func Parent(name string) string {
	if name == "." {
		return "."
	}
	i := strings.IndexByte(name, '.')
	if i == len(name)-1 {
		return "."
	}
	return name[i+1:]
}

// CountLabels returns the number of labels of a normalized name ("." has 0).
func CountLabels(name string) int {
	if name == "." {
		return 0
	}
	return strings.Count(name, ".")
}

// Reverse returns the labels of a normalized name in reverse order, each
// followed by a dot: "www.example.com." gives "com.example.www.". A range
// over the prefix Reverse(n) covers n and every name below it, which is what
// storage keys are built on.
func Reverse(name string) string {
	if name == "." {
		return ""
	}
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	var b strings.Builder
	b.Grow(len(name))
	for i := len(labels) - 1; i >= 0; i-- {
		b.WriteString(labels[i])
		b.WriteByte('.')
	}
	return b.String()
}

// Unreverse inverts Reverse.
func Unreverse(r string) string {
	if r == "" {
		return "."
	}
	return Reverse(r)
}

// NormalizedSet normalizes names, drops the invalid ones and duplicates,
// and sorts the rest: two nameserver sets compare equal whatever their
// case, order or final dots.
func NormalizedSet(names []string) []string {
	var out []string
	for _, n := range names {
		nn, err := Normalize(n)
		if err != nil {
			continue
		}
		if !slices.Contains(out, nn) {
			out = append(out, nn)
		}
	}
	slices.Sort(out)
	return out
}

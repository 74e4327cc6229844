package zonefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// tagsMarker separates a record's comment from its tags in a zone-file
// comment ("Import and export records", DNS record attributes).
const tagsMarker = "cf_tags="

// ParseAttributes splits the text of a zone-file comment (without the
// leading ';') into the record's comment and its tags, in the cf_tags=
// grammar of the source documents:
//
//	<comment>                      only a comment
//	cf_tags=<tags>                 only tags
//	<comment> cf_tags=<tags>       both
//	<comment with cf_tags=> cf_tags=   a comment holding the marker itself
//
// <tags> is a comma-separated list of name, name:, name:"" (an empty
// value), name:value or name:"json string"; a value holding '"', '=', ','
// or '\' must be quoted. Tags come back as "name:value" in the order
// written, names as written (validation folds their case).
//
// The marker that starts the tags is the right-most one whose remainder is
// a well-formed tag list: the writer quotes every value holding '=', so
// the tag list written after a comment never holds an unquoted marker of
// its own, and a comment that holds one is followed by the extra marker
// the documents ask for.
func ParseAttributes(text string) (comment string, tags []string, err error) {
	text = strings.TrimSpace(text)
	var firstErr error
	for end := len(text); ; {
		i := strings.LastIndex(text[:end], tagsMarker)
		if i < 0 {
			break
		}
		// The marker starts the comment text or follows a blank.
		if i == 0 || text[i-1] == ' ' || text[i-1] == '\t' {
			t, err := parseTagList(text[i+len(tagsMarker):])
			if err == nil {
				return strings.TrimSpace(text[:i]), t, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		end = i
	}
	if firstErr != nil {
		// The comment holds a marker but no well-formed tag list follows
		// any: the documents ask for an extra cf_tags= at the end of a
		// comment holding the marker, so this is a malformed line.
		return "", nil, firstErr
	}
	return text, nil, nil
}

// parseTagList parses the part after cf_tags= to the end of the comment.
func parseTagList(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		n := 0
		for n < len(s) && isTagNameByte(s[n]) {
			n++
		}
		name := s[:n]
		if name == "" {
			return nil, fmt.Errorf("tag name expected at %q", truncate(s))
		}
		s = strings.TrimLeft(s[n:], " \t")
		value := ""
		if strings.HasPrefix(s, ":") {
			s = strings.TrimLeft(s[1:], " \t")
			if strings.HasPrefix(s, `"`) {
				v, rest, err := jsonString(s)
				if err != nil {
					return nil, fmt.Errorf("tag %s: %w", name, err)
				}
				value, s = v, rest
			} else {
				end := strings.IndexByte(s, ',')
				if end < 0 {
					end = len(s)
				}
				value = strings.TrimRight(s[:end], " \t")
				if strings.ContainsAny(value, "\"=\\") {
					return nil, fmt.Errorf("tag %s: a value holding '\"', '=', ',' or '\\' must be quoted", name)
				}
				s = s[end:]
			}
		}
		out = append(out, name+":"+value)
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("',' expected after tag %s, found %q", name, truncate(s))
		}
		s = s[1:]
	}
}

// jsonString reads one JSON string at the start of s and returns its value
// and what follows it.
func jsonString(s string) (string, string, error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			var v string
			if err := json.Unmarshal([]byte(s[:i+1]), &v); err != nil {
				return "", "", fmt.Errorf("bad quoted value %s: %w", s[:i+1], err)
			}
			return v, s[i+1:], nil
		}
	}
	return "", "", errors.New("quoted value is not closed")
}

func isTagNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// FormatAttributes writes a comment and tags ("name:value") as the text of
// a zone-file comment, without the leading "; ", in the canonical form
// ParseAttributes reads back: tags without a value as their bare name,
// values quoted as JSON strings when they hold '"', '=', ',' or '\' (or
// blanks at their ends, which would otherwise be lost), and an extra
// cf_tags= after a comment that holds the marker when there are no tags.
// It returns "" when there is neither.
func FormatAttributes(comment string, tags []string) string {
	var b strings.Builder
	b.WriteString(comment)
	if len(tags) == 0 {
		if strings.Contains(comment, tagsMarker) {
			b.WriteString(" " + tagsMarker)
		}
		return b.String()
	}
	if comment != "" {
		b.WriteByte(' ')
	}
	b.WriteString(tagsMarker)
	for i, t := range tags {
		if i > 0 {
			b.WriteByte(',')
		}
		name, value, _ := strings.Cut(t, ":")
		b.WriteString(name)
		if value == "" {
			continue
		}
		b.WriteByte(':')
		if needsQuotes(value) {
			q, _ := json.Marshal(value) // a string always marshals
			b.Write(q)
		} else {
			b.WriteString(value)
		}
	}
	return b.String()
}

func needsQuotes(v string) bool {
	return strings.ContainsAny(v, "\"=,\\") || strings.TrimSpace(v) != v ||
		strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

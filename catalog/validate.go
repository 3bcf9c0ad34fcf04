package catalog

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the size of fields, so that one bad record cannot blow up memory
// or the index.
const (
	MaxIDLen    = 256
	MaxTextLen  = 64 << 10 // title, description, brand, image_url…
	MaxListLen  = 256      // categories, attributes
	MaxTitleLen = 4 << 10
)

// Problem is one thing wrong with one record of a batch. Index is the
// record's position in the batch (or its line number, for files).
type Problem struct {
	Index   int    `json:"index"`
	Field   string `json:"field,omitempty"`
	Problem string `json:"problem"`
}

func (p Problem) Error() string {
	if p.Field == "" {
		return fmt.Sprintf("record %d: %s", p.Index, p.Problem)
	}
	return fmt.Sprintf("record %d: %s: %s", p.Index, p.Field, p.Problem)
}

// BatchError lists every problem found in a batch. A batch with any problem
// is rejected whole.
type BatchError struct {
	What     string // "items", "users", "events"
	Problems []Problem
}

func (e *BatchError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid " + e.What
	}
	msg := fmt.Sprintf("invalid %s: %s", e.What, e.Problems[0].Error())
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return msg
}

// CheckID reports what is wrong with an id, or "" when it is fine.
func CheckID(id string) string {
	switch {
	case id == "":
		return "is required"
	case len(id) > MaxIDLen:
		return fmt.Sprintf("is longer than %d bytes", MaxIDLen)
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	case strings.TrimSpace(id) != id:
		return "has leading or trailing white space"
	}
	for _, r := range id {
		if isControl(r) {
			return fmt.Sprintf("contains the control character %U", r)
		}
		if r == utf8.RuneError {
			return "contains U+FFFD, the replacement character (was the text decoded from invalid UTF-8?)"
		}
	}
	return ""
}

// isControl reports C0 and C1 control characters and DEL.
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// CheckText reports what is wrong with free text (a title, a query), or ""
// when it is fine: it must be valid UTF-8 without control characters other
// than tab, newline and carriage return (a NUL or an ESC in a title ends up
// in logs, terminals and other systems' C strings).
func CheckText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i, r := range s {
		if isControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Sprintf("contains the control character %U at byte %d (only tab, newline and carriage return are allowed)", r, i)
		}
	}
	return ""
}

func checkText(field, s string, max int, add func(field, problem string)) {
	if len(s) > max {
		add(field, fmt.Sprintf("is longer than %d bytes", max))
	} else if p := CheckText(s); p != "" {
		add(field, p)
	}
}

// CheckAttributes validates an attribute map: keys are non-empty, values are
// strings or finite numbers.
func CheckAttributes(attrs map[string]any, add func(field, problem string)) {
	if len(attrs) > MaxListLen {
		add("attributes", fmt.Sprintf("has more than %d entries", MaxListLen))
		return
	}
	for k, v := range attrs {
		field := "attributes." + k
		if k == "" {
			add("attributes", "has an empty key")
			continue
		}
		if p := CheckText(k); p != "" {
			add("attributes", "key "+p)
			continue
		}
		switch x := v.(type) {
		case string:
			checkText(field, x, MaxTextLen, add)
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				add(field, "is not a finite number")
			}
		case int:
		default:
			add(field, fmt.Sprintf("must be a string or a number, got %s", jsonKind(v)))
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Validate checks one item and fills defaults (created_at = now when zero).
// It calls add for every problem found.
func (it *Item) Validate(now time.Time, add func(field, problem string)) {
	if p := CheckID(it.ID); p != "" {
		add("id", p)
	}
	checkText("title", it.Title, MaxTitleLen, add)
	checkText("description", it.Description, MaxTextLen, add)
	checkText("brand", it.Brand, MaxTitleLen, add)
	checkText("image_url", it.ImageURL, MaxTextLen, add)
	if len(it.Categories) > MaxListLen {
		add("categories", fmt.Sprintf("has more than %d entries", MaxListLen))
	}
	for i, c := range it.Categories {
		field := fmt.Sprintf("categories[%d]", i)
		if strings.TrimSpace(c) == "" {
			add(field, "is empty")
			continue
		}
		checkText(field, c, MaxTitleLen, add)
		for _, seg := range strings.Split(c, "/") {
			if strings.TrimSpace(seg) == "" {
				add(field, "has an empty path segment (write paths as \"A/B/C\")")
				break
			}
		}
	}
	if it.Price != nil {
		if p := *it.Price; math.IsNaN(p) || math.IsInf(p, 0) || p < 0 {
			add("price", "must be a finite number ≥ 0")
		}
	}
	CheckAttributes(it.Attributes, add)
	if it.CreatedAt.IsZero() {
		it.CreatedAt = now.UTC()
	}
}

// Validate checks one user and fills defaults (created_at = now when zero).
func (u *User) Validate(now time.Time, add func(field, problem string)) {
	if p := CheckID(u.ID); p != "" {
		add("id", p)
	}
	CheckAttributes(u.Attributes, add)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now.UTC()
	}
}

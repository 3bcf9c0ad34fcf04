package api

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxN is the largest number of items one answer may hold.
const MaxN = 200

// QueryInt reads an integer query parameter within [min, max], with a
// default for an absent or empty one; a bad value is a 400 *Error.
func QueryInt(q url.Values, name string, def, min, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, BadRequest("query parameter %s=%q must be a whole number from %d to %d", name, v, min, max)
	}
	return n, nil
}

// Price parses a price bound: a finite number ≥ 0 (NaN and infinities are
// refused). The API's query parameters and the storefront's search form
// both read prices with it.
func Price(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s=%q must be a number ≥ 0", name, v)
	}
	return f, nil
}

// PriceParams reads min_price and max_price from q (nil when absent); a
// bad value is a 400 *Error.
func PriceParams(q url.Values) (min, max *float64, err error) {
	for _, p := range []struct {
		name string
		dst  **float64
	}{{"min_price", &min}, {"max_price", &max}} {
		if v := q.Get(p.name); v != "" {
			f, err := Price(p.name, v)
			if err != nil {
				return nil, nil, &Error{Status: http.StatusBadRequest, Msg: err.Error()}
			}
			*p.dst = &f
		}
	}
	return min, max, nil
}

// ParseWindow reads a window such as "7d", "24h" or "90m"; "" or "all" is
// 0 (all time). Windows must be finite and positive.
func ParseWindow(v string) (time.Duration, error) {
	if v == "" || v == "all" {
		return 0, nil
	}
	bad := fmt.Errorf("window=%q: use a number of days like 7d, or a duration like 12h", v)
	if strings.HasSuffix(v, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(v, "d"), 64)
		// a duration holds at most ~292 years
		if err != nil || !(n > 0) || n > 100_000 {
			return 0, bad
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

package eval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Formats lists the data formats RunRecommend and Load understand.
var Formats = []string{"movielens-100k", "lcfn", "s3rec", "rechorus", "interactions"}

// Data is a loaded benchmark: the splits reported (results are averaged over
// them, e.g. the 5 folds) and the validation split used by tuning.
type Data struct {
	Format     string
	Splits     []Split
	Validation *Split
	// DefaultKs are the cut-offs the format's published numbers use.
	DefaultKs []int
	// Rating is true when the splits hold explicit ratings for RMSE/MAE.
	Rating bool
}

// LoadOptions select a format's protocol variant.
type LoadOptions struct {
	Seed   uint64
	Folds  string // movielens-100k: "" (5 random folds) or "official"
	Split  string // interactions: "random:F" or "last"
	Rating bool   // movielens-100k, interactions: rating prediction
}

// Load reads the data set at path in the named format.
func Load(ctx context.Context, format, path string, opt LoadOptions) (*Data, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s data at %q: %w", format, path, err)
	}
	var (
		d   *Data
		err error
	)
	switch format {
	case "movielens-100k":
		d, err = loadMovieLens(path, opt)
	case "lcfn":
		d, err = loadLCFN(path)
	case "s3rec":
		d, err = loadS3Rec(path)
	case "rechorus":
		d, err = loadReChorus(path)
	case "interactions":
		d, err = loadInteractions(path, opt)
	default:
		return nil, fmt.Errorf("unknown format %q (known: %s)", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return nil, err
	}
	d.Format = format
	if opt.Rating && !d.Rating {
		return nil, fmt.Errorf("format %s at %q has no explicit ratings: --rating needs movielens-100k or interactions with a value column", format, path)
	}
	return d, nil
}

// carveValidation holds out part of a training set for tuning: a random
// fraction frac of its rows (seeded), or when frac <= 0 each user's last row
// (users with one row keep it). It returns the smaller training rows and the
// held-out rows.
func carveValidation(rows []interaction, nUsers int, frac float64, seed uint64) (train, held []interaction) {
	if frac > 0 {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		perm := r.Perm(len(rows))
		cut := int(float64(len(rows)) * frac)
		heldSet := make([]bool, len(rows))
		for _, i := range perm[:cut] {
			heldSet[i] = true
		}
		for i, row := range rows {
			if heldSet[i] {
				held = append(held, row)
			} else {
				train = append(train, row)
			}
		}
		return train, held
	}
	for _, rs := range groupByUser(nUsers, rows) {
		if len(rs) < 2 {
			train = append(train, rs...)
			continue
		}
		train = append(train, rs[:len(rs)-1]...)
		held = append(held, rs[len(rs)-1])
	}
	return train, held
}

// parseFloat32 parses a rating or weight.
func parseFloat32(s string) (float32, error) {
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return float32(v), nil
}

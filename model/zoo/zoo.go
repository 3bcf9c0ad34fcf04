// Package zoo maps model names to constructors, so that the CLI, the
// training pipeline and the evaluator can build any model Aisle has by name.
package zoo

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/model/ease"
	"github.com/aisle-dev/aisle/model/itemfilter"
	"github.com/aisle-dev/aisle/model/knn"
	"github.com/aisle-dev/aisle/model/mf"
	"github.com/aisle-dev/aisle/model/popular"
	"github.com/aisle-dev/aisle/model/rating"
	"github.com/aisle-dev/aisle/model/sasrec"
)

// Factory builds an untrained model from hyper-parameters; missing
// parameters take the model's defaults.
type Factory func(p model.Params) (model.Model, error)

// factories lists every model Aisle has. It is read-only after init.
var factories = map[string]Factory{
	popular.Name:    func(p model.Params) (model.Model, error) { return popular.New(p) },
	knn.Name:        func(p model.Params) (model.Model, error) { return knn.New(p) },
	mf.BPRName:      func(p model.Params) (model.Model, error) { return mf.NewBPR(p) },
	mf.IALSName:     func(p model.Params) (model.Model, error) { return mf.NewIALS(p) },
	ease.Name:       func(p model.Params) (model.Model, error) { return ease.New(p) },
	itemfilter.Name: func(p model.Params) (model.Model, error) { return itemfilter.New(p) },
	"biased-mf":     rating.NewBiasedMF,
	"neural-rating": rating.NewNeural,
	"linear":        rating.NewLinear,
	sasrec.Name: func(p model.Params) (model.Model, error) {
		c, err := sasrec.ConfigFromParams(p)
		if err != nil {
			return nil, err
		}
		return sasrec.New(c)
	},
}

// The blend rebuilds its parts by name through New, so it is registered
// once the table exists (a map literal cannot refer to New).
func init() {
	factories[blend.Name] = func(p model.Params) (model.Model, error) { return blend.New(p, New) }
}

// New builds the named model.
func New(name string, p model.Params) (model.Model, error) {
	f, ok := factories[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return f(p)
}

// Names lists, in sorted order, the models that can be fitted by name:
// every known model except the blend, which is joined from fitted parts
// (package blend) and only built by New to load a stored one.
func Names() []string {
	names := make([]string, 0, len(factories))
	for n := range factories {
		if n != blend.Name {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

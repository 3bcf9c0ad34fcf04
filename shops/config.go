package shops

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/model/zoo"
)

// A shop's own configuration (Settings.Config) is a set of configuration
// keys, by their dotted names as in the YAML file and `aisle config`
// ("events.weights", "training.models", "search.synonyms"), with values
// that replace the deployment's for that shop only. Only the sections that
// describe a shop's data and answers may differ between shops; the rest
// (addresses, keys, stores, the cluster, limits of the process) belong to
// the deployment.
var shopSections = []string{"events.", "training.", "recommend.", "search."}

// notPerShop are keys inside those sections that stay the deployment's:
// secrets, which a shop admin must not read back or point elsewhere.
var notPerShop = []string{"search.embedder_key"}

// ConfigKeys lists the keys a shop may set for itself, sorted.
func ConfigKeys() []string {
	var out []string
	for _, k := range config.Keys() {
		if perShop(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func perShop(key string) bool {
	if slices.Contains(notPerShop, key) {
		return false
	}
	for _, s := range shopSections {
		if strings.HasPrefix(key, s) {
			return true
		}
	}
	return false
}

// ApplyConfig returns base with the shop's own configuration applied and
// checked as a whole (the configuration's own checks, the training
// options, the model names and the event types of the weights). base is
// not changed.
func ApplyConfig(base config.Config, own map[string]any) (config.Config, error) {
	cfg := base
	keys := slices.Sorted(maps.Keys(own))
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return base, err
		}
		text, err := configText(own[k])
		if err != nil {
			return base, fmt.Errorf("config %s: %w", k, err)
		}
		// Set replaces whole values (maps and pointers are new), so base's
		// maps and pointers are never written through
		if err := cfg.Set(k, text); err != nil {
			return base, fmt.Errorf("config %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return base, err
	}
	if _, err := wire.TrainOptions(cfg); err != nil {
		return base, err
	}
	// the names and types the shop set (the deployment's own are its
	// business: a shop must load wherever the default shop does)
	known := zoo.Names()
	for _, list := range []struct {
		key    string
		models []config.Model
	}{{"training.models", cfg.Training.Models}, {"training.background_models", cfg.Training.BackgroundModels}} {
		if _, set := own[list.key]; !set {
			continue
		}
		for _, m := range list.models {
			if !slices.Contains(known, m.Name) {
				slices.Sort(known)
				return base, fmt.Errorf("config %s: unknown model %q (known: %s)", list.key, m.Name, strings.Join(known, ", "))
			}
		}
	}
	_, setWeights := own["events.weights"]
	_, setTypes := own["events.custom_types"]
	if !setWeights && !setTypes {
		return cfg, nil
	}
	types, err := events.NewTypes(cfg.Events.CustomTypes...)
	if err != nil {
		return base, fmt.Errorf("config events.custom_types: %w", err)
	}
	for t := range cfg.Events.Weights {
		if !types.Has(events.Type(t)) {
			return base, fmt.Errorf("config events.weights: unknown event type %q (known: %s; add others to events.custom_types)", t, strings.Join(types.Names(), ", "))
		}
	}
	return cfg, nil
}

// checkKey says why a shop may not set key (nil when it may).
func checkKey(key string) error {
	if perShop(key) {
		return nil
	}
	if slices.Contains(config.Keys(), key) {
		return fmt.Errorf("config key %q belongs to the deployment, not to one shop: a shop may set keys of %s (not %s)",
			key, strings.Join(trimDots(shopSections), ", "), strings.Join(notPerShop, ", "))
	}
	return fmt.Errorf("unknown config key %q: a shop may set keys of %s, such as events.weights, training.models or search.synonyms (see docs/aisle.example.yaml)",
		key, strings.Join(trimDots(shopSections), ", "))
}

func trimDots(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSuffix(s, ".")
	}
	return out
}

// configText turns a JSON value into the text form config.Set reads:
// strings as they are, numbers and booleans as Go writes them, lists and
// objects as JSON (which is YAML).
func configText(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", errors.New("null: leave the key out to use the deployment's value")
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case json.Number:
		return v.String(), nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
}

package catalog

import (
	"encoding/json"
)

// MergePatch applies a JSON merge patch (RFC 7386) to an item and decodes
// the result strictly, so unknown fields and wrong types are rejected.
func MergePatch(cur Item, patch []byte) (Item, error) {
	if err := checkJSONText(patch); err != nil {
		return Item{}, &BatchError{What: "item", Problems: []Problem{ProblemFromJSON(0, err)}}
	}
	var p map[string]json.RawMessage
	if err := strictValid(patch, &p); err != nil {
		return Item{}, err
	}
	base, err := json.Marshal(cur)
	if err != nil {
		return Item{}, err
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return Item{}, err
	}
	var pm map[string]any
	if err := json.Unmarshal(patch, &pm); err != nil {
		return Item{}, err
	}
	merged := mergeValue(doc, pm).(map[string]any)
	out, err := json.Marshal(merged)
	if err != nil {
		return Item{}, err
	}
	it, err := DecodeItem(out)
	if err != nil {
		pr := ProblemFromJSON(0, err)
		return Item{}, &BatchError{What: "item", Problems: []Problem{pr}}
	}
	return it, nil
}

func mergeValue(target any, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}

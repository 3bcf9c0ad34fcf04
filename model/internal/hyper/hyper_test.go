package hyper

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

func TestRead(t *testing.T) {
	specs := []Spec{{Name: "k", Default: 10, Min: 1, Int: true}, {Name: "reg", Default: 0.1, Min: 0, Max: 1}}
	tests := []struct {
		name    string
		p       model.Params
		want    map[string]float64
		wantErr string
	}{
		{"defaults", nil, map[string]float64{"k": 10, "reg": 0.1}, ""},
		{"override", model.Params{"k": 3}, map[string]float64{"k": 3, "reg": 0.1}, ""},
		{"unknown", model.Params{"kk": 3}, nil, `unknown parameter "kk"`},
		{"below", model.Params{"k": 0}, nil, "must be at least"},
		{"above", model.Params{"reg": 2}, nil, "out of range"},
		{"fraction", model.Params{"k": 2.5}, nil, "whole number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read("m", tc.p, specs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestSaveLoad(t *testing.T) {
	type payload struct{ A []float32 }
	var buf bytes.Buffer
	if err := Save(&buf, "x", 1, payload{A: []float32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	var got payload
	if err := Load(bytes.NewReader(data), "x", 1, &got); err != nil || len(got.A) != 2 || got.A[1] != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	if err := Load(bytes.NewReader(data), "y", 1, &got); err == nil {
		t.Fatal("loading another kind succeeded")
	}
	if err := Load(bytes.NewReader(data), "x", 2, &got); err == nil {
		t.Fatal("loading another version succeeded")
	}
}

func TestCheckCSR(t *testing.T) {
	tests := []struct {
		name string
		ptr  []int
		idx  []int32
		w    []float32
		ok   bool
	}{
		{"good", []int{0, 1, 3}, []int32{0, 2, 1}, nil, true},
		{"good weights", []int{0, 1, 3}, []int32{0, 2, 1}, []float32{1, 1, 1}, true},
		{"empty ptr", nil, nil, nil, false},
		{"short span", []int{0, 1, 2}, []int32{0, 2, 1}, nil, false},
		{"decreasing", []int{0, 2, 1, 3}, []int32{0, 2, 1}, nil, false},
		{"out of range", []int{0, 1, 3}, []int32{0, 3, 1}, nil, false},
		{"negative", []int{0, 1, 3}, []int32{0, -1, 1}, nil, false},
		{"weights", []int{0, 1, 3}, []int32{0, 2, 1}, []float32{1}, false},
	}
	for _, tc := range tests {
		if err := CheckCSR(tc.ptr, tc.idx, tc.w, 3); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

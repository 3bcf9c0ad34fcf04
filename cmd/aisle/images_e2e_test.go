package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/fakeembed"
)

// Search by image end to end: the real server with an image embedder
// (a fake OpenAI-compatible one on 127.0.0.1), items with image URLs
// through the API, an uploaded image's bytes, and visually similar items.
func TestImageSearchOverHTTP(t *testing.T) {
	fe := fakeembed.Start()
	defer fe.Close()
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, fmt.Sprintf("images:\n  embedder_url: %s\n  embedder_model: clip\n", fe.Base())))
	items := `[{"id":"red1","title":"Red stapler","image_url":"https://img.test/red-stapler.png"},
		{"id":"blue1","title":"Blue pen","image_url":"https://img.test/blue-pen.png"},
		{"id":"blue2","title":"Blue folder","image_url":"https://img.test/blue-folder.png"},
		{"id":"plain","title":"No picture"}]`
	if code, m := s.do("POST", "/api/items", items); code != 200 {
		t.Fatalf("items: %d %v", code, m)
	}
	post := func() (int, []string) {
		req, _ := http.NewRequest("POST", s.url+"/api/search/image?n=2", strings.NewReader("a photo of a BLUE thing"))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "image/png")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct {
			Items []struct{ ID string } `json:"items"`
		}
		json.NewDecoder(resp.Body).Decode(&got)
		var ids []string
		for _, h := range got.Items {
			ids = append(ids, h.ID)
		}
		return resp.StatusCode, ids
	}
	// the items are embedded in the background after they are stored
	deadline := time.Now().Add(30 * time.Second)
	var ids []string
	for {
		code, got := post()
		if code == 200 && len(got) == 2 {
			ids = got
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search by image: %d %v", code, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !(ids[0] == "blue1" || ids[0] == "blue2") || !(ids[1] == "blue1" || ids[1] == "blue2") {
		t.Fatalf("a blue image finds %v, want the two blue items", ids)
	}
	code, m := s.do("GET", "/api/items/blue1/visually-similar?n=1", "")
	if code != 200 || fmt.Sprint(m["items"].([]any)[0].(map[string]any)["id"]) != "blue2" {
		t.Fatalf("visually similar to blue1: %d %v", code, m)
	}
	if code, _ := s.do("GET", "/api/items/plain/visually-similar", ""); code != 404 {
		t.Fatalf("an item without an image: %d, want 404", code)
	}
}

// writeConfig writes a YAML configuration file for a test server.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aisle.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Image similarity is a signal of similar items: of two staplers alike in
// every other signal, the one whose picture looks like the anchor's comes
// first (without the image signal the tie goes the other way, by id), and
// an item alike only in its picture joins the answer, said to be "similar
// in the model".
func TestSimilarItemsUseImages(t *testing.T) {
	fe := fakeembed.Start()
	defer fe.Close()
	s := startServer(t, t.TempDir(), "--config", writeConfig(t, fmt.Sprintf("images:\n  embedder_url: %s\n  embedder_model: clip\n", fe.Base())))
	items := `[{"id":"s-red","title":"Desk stapler","categories":["Office/Staplers"],"image_url":"https://img.test/red-stapler.png"},
		{"id":"s-blue","title":"Desk stapler","categories":["Office/Staplers"],"image_url":"https://img.test/blue-stapler.png"},
		{"id":"s-red2","title":"Desk stapler","categories":["Office/Staplers"],"image_url":"https://img.test/red-stapler-2.png"},
		{"id":"n-red","title":"Spiral notebook","categories":["Office/Paper"],"image_url":"https://img.test/red-notebook.png"},
		{"id":"n-green","title":"Ruled pad","categories":["Office/Paper"],"image_url":"https://img.test/green-pad.png"}]`
	if code, m := s.do("POST", "/api/items", items); code != 200 {
		t.Fatalf("items: %d %v", code, m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := s.do("GET", "/api/items/s-red/visually-similar?n=1", ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the image vectors were not built in 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, m := s.do("GET", "/api/items/s-red/similar?n=4", "")
	if code != 200 {
		t.Fatalf("similar: %d %v", code, m)
	}
	var ids []string
	reasons := map[string]string{}
	for _, it := range m["items"].([]any) {
		h := it.(map[string]any)
		id := fmt.Sprint(h["id"])
		ids = append(ids, id)
		reasons[id] = fmt.Sprint(h["reason"])
	}
	if len(ids) < 3 || ids[0] != "s-red2" || ids[1] != "s-blue" {
		t.Fatalf("similar to the red stapler: %v, want the red stapler first, then the blue one", ids)
	}
	if !strings.Contains(reasons["n-red"], "similar in the model") {
		t.Fatalf("the red notebook (alike only in its picture): reason %q in %v", reasons["n-red"], reasons)
	}
}

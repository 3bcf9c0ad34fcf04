package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/aisle-dev/aisle/search"
)

// chromium finds a Chromium binary: $AISLE_CHROMIUM, or one on the PATH.
func chromium() string {
	if p := os.Getenv("AISLE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts one headless Chromium for a test, or skips the test when
// the machine has none.
func browser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		t.Skip("no Chromium found (install the Debian package chromium, or set AISLE_CHROMIUM): skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	// what the page said went wrong, shown when the test fails
	var mu sync.Mutex
	var pageLog []string
	if err := chromedp.Listen(ctx, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			line = fmt.Sprintf("exception: %s at %s:%d", d.Text, d.URL, d.LineNumber+1)
			if d.Exception != nil {
				line += ": " + d.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				line = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
			}
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				line = fmt.Sprintf("HTTP %d %s", ev.Response.Status, ev.Response.URL)
			}
		}
		if line != "" {
			mu.Lock()
			pageLog = append(pageLog, line)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() && len(pageLog) > 0 {
			t.Logf("the page reported:\n  %s", strings.Join(pageLog, "\n  "))
		}
	})
	return ctx
}

// do runs steps that return nothing, failing the test on an error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action and returns its value, failing the test on an error.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (at most 30 s).
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error %v)", cond, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func rowOf(t *testing.T, ctx context.Context, row string) []string {
	t.Helper()
	return get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#row-`+row+` a[data-item]')].map(a => a.dataset.item)`))
}

// TestBrowserShopAndDashboard clicks through the shop in headless Chromium:
// switch to a demo user, search for a product and open it, add it to the cart, see
// the events in the API and the rows change (with buy it again, because you
// viewed it and new for you), see the cart completed, then log in to the
// dashboard and see the plot.
func TestBrowserShopAndDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	ctx := browser(t, 90*time.Second)
	s := newShop(t, Options{AdminKey: testAdminKey, Demo: true})
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(context.Background(), s.its...); err != nil {
		t.Fatal(err)
	}
	s.ui.search = &IndexSearcher{Index: ix} // as Options.Searcher would set it
	base := s.hs.URL

	do(t, ctx, "home page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#row-trending`),
		chromedp.SetValue(`#user`, "u000"),
		chromedp.Click(`.switcher button`),
	)
	// The old page stays visible until the new one loads: wait for the
	// switch to show, not for a row that both pages have.
	waitFor(t, ctx, `document.querySelector('footer') && document.querySelector('footer').textContent.includes('u000') && document.querySelector('#row-recommended') !== null`)
	who := get(t, ctx, chromedp.Text(`footer`))
	before, trending := rowOf(t, ctx, "recommended"), rowOf(t, ctx, "trending")
	if !strings.Contains(who, "u000") || len(before) == 0 || len(trending) == 0 {
		t.Fatalf("home as u000: %q, recommended %v, trending %v", who, before, trending)
	}
	// Search for a product from the box, open a hit that u000 was not
	// recommended, and put it in the cart.
	do(t, ctx, "search",
		chromedp.SendKeys(`#q`, "desk"),
		chromedp.Submit(`#q`),
	)
	waitFor(t, ctx, `document.querySelector('ol.hits a[data-item]') !== null`)
	hits := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('ol.hits a[data-item]')].map(a => a.dataset.item)`))
	marks := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('ol.hits mark').length`))
	if len(hits) == 0 || marks == 0 {
		t.Fatalf("search results: hits %v, %d highlighted matches", hits, marks)
	}
	pick := hits[0]
	for _, id := range hits {
		if !slices.Contains(before, id) {
			pick = id
			break
		}
	}
	do(t, ctx, "product page",
		chromedp.Click(`ol.hits a[data-item="`+pick+`"]`),
		chromedp.WaitVisible(`button[data-event="add_to_cart"]`),
	)
	product := get(t, ctx, chromedp.AttributeValue(`article.product`, "data-item")).Value
	// The product page shows its similar items and its bought-together
	// row (issue 19 items 1 and 2), never the product itself.
	similar, together := rowOf(t, ctx, "similar"), rowOf(t, ctx, "bought_together")
	hasTogether := get(t, ctx, chromedp.Evaluate[bool](`document.querySelector('#row-bought_together') !== null`))
	if len(similar) == 0 || slices.Contains(similar, pick) || !hasTogether || slices.Contains(together, pick) {
		t.Fatalf("product page of %s: similar items %v, bought together %v (row shown: %v)", pick, similar, together, hasTogether)
	}
	do(t, ctx, "add to cart",
		chromedp.Click(`button[data-event="add_to_cart"]`),
		chromedp.WaitReady(`body[data-last-event="add_to_cart"]`),
	)
	status := get(t, ctx, chromedp.Text(`#status`))
	if product != pick || !strings.Contains(status, "Added to your cart") {
		t.Fatalf("product %q (picked %q), status %q", product, pick, status)
	}
	// The events are in the user's history, through the public API.
	req, _ := http.NewRequest("GET", base+"/api/users/u000/events?limit=5", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Events []struct {
			ItemID string `json:"item_id"`
			Type   string `json:"type"`
		} `json:"events"`
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	var seen []string
	for _, e := range got.Events {
		if e.ItemID == pick {
			seen = append(seen, e.Type)
		}
	}
	if !slices.Contains(seen, "add_to_cart") || !slices.Contains(seen, "view") || !slices.Contains(seen, "click") {
		t.Fatalf("u000's events for the product: %v (all: %+v)", seen, got.Events)
	}
	// The next home page shows it and the recommendations moved.
	do(t, ctx, "home again", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#row-continue`))
	after, cont := rowOf(t, ctx, "recommended"), rowOf(t, ctx, "continue")
	if len(cont) == 0 || cont[0] != pick {
		t.Fatalf("continue row %v does not start with %s", cont, pick)
	}
	if slices.Equal(before, after) {
		t.Fatalf("recommendations did not change: %v", after)
	}
	// The shop rows: u000 bought before (buy it again), just viewed the
	// product (because you viewed it, named), and new items are there.
	again, fresh := rowOf(t, ctx, "buy_again"), rowOf(t, ctx, "new_for_you")
	because := rowOf(t, ctx, "because_0")
	becauseTitle := get(t, ctx, chromedp.Text(`#h-because_0`))
	if len(again) == 0 || len(fresh) == 0 || len(because) == 0 || slices.Contains(because, pick) {
		t.Fatalf("shop rows: buy again %v, new for you %v, because you viewed %v (must not hold %s)", again, fresh, because, pick)
	}
	productTitle := get(t, ctx, chromedp.Evaluate[string](`document.querySelector('#row-continue a[data-item] .title').textContent`))
	if !strings.HasPrefix(becauseTitle, "Because you viewed ") || !strings.Contains(becauseTitle, productTitle) {
		t.Fatalf("because-you-viewed title %q should name %q", becauseTitle, productTitle)
	}
	// The cart page holds the product and completes the basket without it.
	do(t, ctx, "cart", chromedp.Click(`nav a[href="/cart"]`))
	waitFor(t, ctx, `document.querySelector('#row-complete_basket') !== null`)
	cart, complete := rowOf(t, ctx, "cart"), rowOf(t, ctx, "complete_basket")
	if len(cart) == 0 || cart[0] != pick || len(complete) == 0 || slices.Contains(complete, pick) {
		t.Fatalf("cart %v (want %s first), complete your basket %v", cart, pick, complete)
	}
	// The dashboard asks for the key, then draws the plot.
	do(t, ctx, "dashboard",
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(`#key`),
		chromedp.SendKeys(`#key`, testAdminKey),
		chromedp.Submit(`#key`),
		chromedp.WaitVisible(`#events-plot`),
	)
	lines := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#events-plot polyline').length`))
	models := get(t, ctx, chromedp.Text(`table.models`))
	if lines < 3 || !strings.Contains(models, "itemknn") { // purchase, view, click, add_to_cart
		t.Fatalf("dashboard: %d plot lines, models %q", lines, models)
	}
}

// TestScreenshots saves PNGs of the main pages of a running server (the
// demo) into docs/screenshots. It runs only when asked:
//
//	aisle demo --admin-key K &   # wait for GET /api/ready
//	AISLE_SCREENSHOT_URL=http://127.0.0.1:8080 AISLE_SCREENSHOT_KEY=K go test ./web -run Screenshots
func TestScreenshots(t *testing.T) {
	base := os.Getenv("AISLE_SCREENSHOT_URL")
	if base == "" {
		t.Skip("set AISLE_SCREENSHOT_URL (a running aisle demo) to take screenshots")
	}
	ctx := browser(t, 2*time.Minute)
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		do(t, ctx, name, append(steps, chromedp.Sleep(300*time.Millisecond))...)
		png := get(t, ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Browse as the first demo user of the switcher.
	do(t, ctx, "open the shop", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#user`))
	user := get(t, ctx, chromedp.Evaluate[string](`document.querySelector('#user option:nth-child(2)').value`))
	shot("home.png",
		chromedp.SetValue(`#user`, user),
		chromedp.Click(`.switcher button`),
		chromedp.WaitVisible(`#row-recommended`),
	)
	shot("product.png",
		chromedp.Click(`#row-recommended a[data-item]`),
		chromedp.WaitVisible(`button[data-event="add_to_cart"]`),
		chromedp.Click(`button[data-event="add_to_cart"]`),
		chromedp.WaitReady(`body[data-last-event="add_to_cart"]`),
	)
	shot("dashboard.png",
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(`#key`),
		chromedp.SendKeys(`#key`, os.Getenv("AISLE_SCREENSHOT_KEY")),
		chromedp.Submit(`#key`),
		chromedp.WaitVisible(`#events-plot`),
	)
}

package console_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// screen is a screen every page of the console fits.
type screen struct{ width, height int64 }

func (s screen) String() string { return fmt.Sprintf("%dx%d", s.width, s.height) }

// screens are the screens the console is checked on: a desktop's and a phone's.
var screens = []screen{{1280, 800}, {390, 844}}

// phone reports whether s is a phone's screen, on which every control must be large enough
// to tap.
func (s screen) phone() bool { return s.width < 720 }

// onScreen starts a browser whose viewport is s.
func onScreen(t *testing.T, s screen) context.Context {
	t.Helper()
	ctx := browser(t)
	run(t, ctx, chromedp.EmulateViewport(s.width, s.height))
	return ctx
}

// layoutJS lists what is wrong with the layout of the page: the page is wider than the
// window (it scrolls sideways); a visible control (link, button, field) reaches past the
// window's left or right edge, or is covered by another element at its centre
// (document.elementFromPoint, after scrolling it into view, returns neither it nor one of its
// descendants); with tap set, a control (a checkbox's label, for a checkbox) is less than 40
// px tall; and, on a signed-in page, the Sign out button is not on the screen as the page
// opens.
const layoutJS = `((tap) => {
  const problems = [];
  const vw = window.innerWidth, vh = window.innerHeight;
  const name = (el) => {
    if (!el) return "nothing";
    const text = (el.innerText || el.value || el.name || el.getAttribute("aria-label") || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.name ? "[name=" + el.name + "]" : "") + (text ? ' "' + text + '"' : "");
  };
  window.scrollTo(0, 0);
  const width = document.documentElement.scrollWidth;
  if (width > vw) problems.push("the page is " + width + " px wide, the window " + vw);
  const signOut = [...document.querySelectorAll("header button")].find((b) => b.textContent.trim() === "Sign out");
  if (document.querySelector("header")) {
    const r = signOut && signOut.getBoundingClientRect();
    if (!r || r.left < 0 || r.right > vw || r.top < 0 || r.bottom > vh) problems.push("Sign out is not on the screen");
  }
  const controls = document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary");
  for (const el of controls) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden" || el.getClientRects().length === 0) continue;
    const box = el.type === "checkbox" || el.type === "radio" ? el.closest("label") || el : el;
    el.scrollIntoView({ block: "center", inline: "nearest" });
    const whole = el.getBoundingClientRect();
    if (whole.left < -0.5 || whole.right > vw + 0.5) problems.push(name(el) + " spans " + Math.round(whole.left) + " to " + Math.round(whole.right) + " px");
    const first = el.getClientRects()[0];
    const x = Math.min(Math.max(first.left + first.width / 2, 0), vw - 1), y = first.top + first.height / 2;
    const hit = document.elementFromPoint(x, y);
    if (!hit || !(hit === el || el.contains(hit) || (box !== el && box.contains(hit)))) problems.push(name(el) + " is covered by " + name(hit));
    const height = box.getBoundingClientRect().height;
    if (tap && height < 39.5) problems.push(name(el) + " is " + Math.round(height) + " px tall, too small to tap");
  }
  window.scrollTo(0, 0);
  return problems;
})`

// checkLayout fails the test for each problem layoutJS finds with the page ctx shows on s.
func checkLayout(t *testing.T, ctx context.Context, s screen, page string) {
	t.Helper()
	var problems []string
	run(t, ctx, chromedp.Evaluate(fmt.Sprintf("%s(%v)", layoutJS, s.phone()), &problems))
	for _, p := range problems {
		t.Errorf("%s on %s: %s", page, s, p)
	}
}

// checkPage checks the layout of the page ctx shows on s and writes its screenshot as
// <page>-<width>.png (see screenshots): a new page of the console checks itself with it.
func checkPage(t *testing.T, ctx context.Context, s screen, page string) {
	t.Helper()
	checkLayout(t, ctx, s, page)
	run(t, ctx, shot(t, ctx, fmt.Sprintf("%s-%d", page, s.width)))
}

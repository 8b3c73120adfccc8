package keyhaven_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sleepExempt are test files allowed to sleep, by slash path: none.
var sleepExempt = map[string]bool{}

// TestNoTestSleeps keeps sleeps out of tests: a test moves a ManualClock to make a background
// loop run, and polls with a deadline (internal/eventually) for what no clock drives. It
// fails on every time.Sleep, or receive from time.After standing as a statement, in a
// *_test.go file or a test helper (a file that imports "testing").
func TestNoTestSleeps(t *testing.T) {
	t.Run("the check finds a sleep", func(t *testing.T) {
		src := `package p
import (
	"testing"
	clock "time"
)
func f(t *testing.T) {
	clock.Sleep(1)
	<-clock.After(1)
	select {
	case <-clock.After(1):
	}
}`
		if got := sleeps(t, "p.go", src); len(got) != 2 {
			t.Fatalf("found %v, want the Sleep and the bare receive from After", got)
		}
	})
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || sleepExempt[filepath.ToSlash(path)] {
			return nil
		}
		found = append(found, sleeps(t, path, nil)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("%s: a test waits by the wall clock; advance a ManualClock, or poll with internal/eventually", f)
	}
}

// sleeps returns where the Go file at path (or src, when not nil) sleeps, if it is a test
// file or a test helper.
func sleeps(t *testing.T, path string, src any) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	timeName, helper := "", strings.HasSuffix(path, "_test.go")
	for _, imp := range f.Imports {
		switch p, _ := strconv.Unquote(imp.Path.Value); p {
		case "testing":
			helper = true
		case "time":
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	if !helper || timeName == "" {
		return nil
	}
	timeCall := func(e ast.Expr, name string) bool {
		call, ok := e.(*ast.CallExpr)
		if !ok {
			return false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		return ok && pkg.Name == timeName && sel.Sel.Name == name
	}
	var found []string
	cases := map[ast.Stmt]bool{} // a select's cases: a deadline there is not a sleep
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CommClause:
			cases[n.Comm] = true
		case *ast.CallExpr:
			if timeCall(n, "Sleep") {
				found = append(found, fset.Position(n.Pos()).String())
			}
		case *ast.ExprStmt:
			if u, ok := n.X.(*ast.UnaryExpr); ok && u.Op == token.ARROW && timeCall(u.X, "After") && !cases[n] {
				found = append(found, fset.Position(n.Pos()).String())
			}
		}
		return true
	})
	return found
}

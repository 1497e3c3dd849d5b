package s3vfs_test

import (
	"errors"
	"go/build"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// modulePath is the import path of the module, and of its root package.
const modulePath = "github.com/s3vfs/s3vfs"

// layerRule is one rule between the module's packages (docs/design.md,
// "The layers (plan)"): the packages it binds must not import what bad
// names.
type layerRule struct {
	rule   string            // the rule, as docs/design.md words it
	from   string            // the packages it binds: a path in the module, or "dir/..." for dir and every package below it
	except []string          // packages of from the rule does not bind, each with its reason in the table's comment
	bad    func(string) bool // reports whether an import breaks the rule
}

// layerRules are the rules that hold today; a later piece of the plan adds
// its own as one line.
var layerRules = []layerRule{
	// internal/bench (the benchmark harness of s3vfs bench) and
	// internal/docsnippets (tests of the documentation's code) are
	// programs over the public API, above the root.
	{"1. nothing under internal/ imports the root", "internal/...", []string{"internal/bench", "internal/docsnippets"}, isPackage(modulePath)},
	{"2. internal/cache never imports internal/store: it imports no package of the module", "internal/cache", nil, inModule},
	{"3. internal/store never imports internal/format: it imports no package of the module", "internal/store", nil, inModule},
	{"3. internal/store/storetest imports no package of the module but internal/store", "internal/store/storetest", nil, inModuleBut("internal/store")},
	{"4. internal/format imports the standard library only", "internal/format", nil, notStandard},
	{"5. internal/commitlog imports store and format, never the engine: no other package of the module", "internal/commitlog", nil, inModuleBut("internal/store", "internal/format")},
	{"5. internal/commitlog/logtest imports no package of the module but commitlog and store", "internal/commitlog/logtest", nil, inModuleBut("internal/commitlog", "internal/store")},
}

// isPackage returns a bad that refuses the package path.
func isPackage(path string) func(string) bool {
	return func(imp string) bool { return imp == path }
}

// inModule reports whether imp is a package of the module, the root
// included.
func inModule(imp string) bool {
	return imp == modulePath || strings.HasPrefix(imp, modulePath+"/")
}

// inModuleBut returns a bad that refuses the packages of the module but
// those at rels (paths in the module).
func inModuleBut(rels ...string) func(string) bool {
	return func(imp string) bool {
		return inModule(imp) && !slices.ContainsFunc(rels, func(rel string) bool { return imp == path.Join(modulePath, rel) })
	}
}

// notStandard reports whether imp is not a package of the standard
// library.
func notStandard(imp string) bool {
	if imp == "C" {
		return true
	}
	p, err := build.Default.Import(imp, "", build.FindOnly)
	return err != nil || !p.Goroot
}

// modulePackages returns the packages of the module, by path relative to
// the module's root ("." for the root), read with go/build from the
// directory tree below the working directory, the module's root.
func modulePackages(t *testing.T) map[string]*build.Package {
	t.Helper()
	pkgs := map[string]*build.Package{}
	err := filepath.WalkDir(".", func(dir string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); dir != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(dir, 0)
		var none *build.NoGoError
		if errors.As(err, &none) {
			return nil
		}
		if err != nil {
			return err
		}
		pkgs[filepath.ToSlash(dir)] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// binds reports whether the pattern from (see layerRule) names the package
// at rel.
func binds(from, rel string) bool {
	if dir, ok := strings.CutSuffix(from, "/..."); ok {
		return rel == dir || strings.HasPrefix(rel, dir+"/")
	}
	return rel == from
}

// TestLayers checks the rules between the module's packages on their
// imports, and on the imports of their tests in the same package. It
// needs no server.
func TestLayers(t *testing.T) {
	pkgs := modulePackages(t)
	for _, want := range []string{".", "internal/cache", "internal/format", "internal/store", "internal/store/storetest", "internal/commitlog", "internal/commitlog/logtest"} {
		if pkgs[want] == nil {
			t.Fatalf("the packages of the module (%d) do not include %s", len(pkgs), want)
		}
	}
	for _, r := range layerRules {
		bound := 0
		for _, e := range r.except {
			if pkgs[e] == nil || !binds(r.from, e) {
				t.Errorf("rule %q: its exception %s is not a package of %s", r.rule, e, r.from)
			}
		}
		for rel, p := range pkgs {
			if !binds(r.from, rel) || slices.Contains(r.except, rel) {
				continue
			}
			bound++
			for _, imp := range slices.Concat(p.Imports, p.TestImports) {
				if r.bad(imp) {
					t.Errorf("rule %q: %s imports %s", r.rule, path.Join(modulePath, rel), imp)
				}
			}
		}
		if bound == 0 {
			t.Errorf("rule %q binds no package (%s)", r.rule, r.from)
		}
	}
}

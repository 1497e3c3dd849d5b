package s3vfs_test

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// modulePath is the import path of the module, and of its root package.
const modulePath = "github.com/s3vfs/s3vfs"

// layerRule is one rule between the module's packages (docs/design.md,
// "The layers"): the packages it binds must not import what bad
// names.
type layerRule struct {
	rule   string            // the rule, as docs/design.md words it
	from   string            // the packages it binds: a path in the module, "dir/..." for dir and every package below it, or "deps(path)" for path and every package of the module it imports, transitively, without tests (the module's part of go list -deps)
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
	{"4. internal/tx imports only internal/format of the module, and the standard library: pure, no I/O, no SQLite", "internal/tx", nil, notStandardBut("internal/format")},
	{"4. internal/plan imports only internal/format, internal/tx and internal/btree of the module, and the standard library: pure, no I/O, no SQLite", "internal/plan", nil, notStandardBut("internal/format", "internal/tx", "internal/btree")},
	{"5. internal/commitlog imports store and format, never the engine: no other package of the module", "internal/commitlog", nil, inModuleBut("internal/store", "internal/format")},
	{"5. internal/commitlog/logtest imports no package of the module but commitlog and store", "internal/commitlog/logtest", nil, inModuleBut("internal/commitlog", "internal/store")},
	{"6. internal/engine imports only the layers below it (format, store, cache, commitlog, tx, plan, btree, uriparams), never internal/versions nor the root", "internal/engine", nil,
		inModuleBut("internal/format", "internal/store", "internal/cache", "internal/commitlog", "internal/tx", "internal/plan", "internal/btree", "internal/uriparams")},
	{"6. internal/versions imports the engine and the layers below it, never the root", "internal/versions", nil,
		inModuleBut("internal/engine", "internal/format", "internal/store", "internal/cache", "internal/commitlog", "internal/tx", "internal/plan", "internal/btree", "internal/uriparams")},
	{"7. the root never imports the DynamoDB SDK, through no package of the module", "deps(.)", nil, dynamoDBSDK},
	// Its tests start dynalite (dyntest) and run the log's conformance
	// suite (logtest).
	{"7. s3vfs/dynamodb imports store, format and commitlog, never the root", "dynamodb", nil,
		inModuleBut("internal/store", "internal/format", "internal/commitlog", "internal/commitlog/logtest", "internal/dyntest")},
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

// dynamoDBSDK reports whether imp is a package of the AWS SDK's DynamoDB
// client.
func dynamoDBSDK(imp string) bool {
	const sdk = "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	return imp == sdk || strings.HasPrefix(imp, sdk+"/")
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

// notStandardBut returns a bad that refuses every package outside the
// standard library but those of the module at rels (paths in the module).
func notStandardBut(rels ...string) func(string) bool {
	return func(imp string) bool {
		return notStandard(imp) && !slices.ContainsFunc(rels, func(rel string) bool { return imp == path.Join(modulePath, rel) })
	}
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

// bound returns the packages of pkgs the pattern from (see layerRule)
// names, by path relative to the module's root, and whether the imports
// of their tests count: not for a deps(path) pattern, whose closure is
// what a program linking path links.
func bound(from string, pkgs map[string]*build.Package) (rels []string, tests bool) {
	if root, ok := strings.CutPrefix(from, "deps("); ok {
		root = strings.TrimSuffix(root, ")")
		seen := map[string]bool{}
		var walk func(rel string)
		walk = func(rel string) {
			p := pkgs[rel]
			if seen[rel] || p == nil {
				return
			}
			seen[rel] = true
			rels = append(rels, rel)
			for _, imp := range p.Imports {
				if imp == modulePath {
					walk(".")
				} else if sub, ok := strings.CutPrefix(imp, modulePath+"/"); ok {
					walk(sub)
				}
			}
		}
		walk(root)
		return rels, false
	}
	for rel := range pkgs {
		if dir, ok := strings.CutSuffix(from, "/..."); ok {
			if rel == dir || strings.HasPrefix(rel, dir+"/") {
				rels = append(rels, rel)
			}
		} else if rel == from {
			rels = append(rels, rel)
		}
	}
	return rels, true
}

// violations returns how the packages pkgs break the rule r, one line
// each, and the number of packages it binds.
func violations(r layerRule, pkgs map[string]*build.Package) (broken []string, n int) {
	rels, tests := bound(r.from, pkgs)
	for _, e := range r.except {
		if pkgs[e] == nil || !slices.Contains(rels, e) {
			broken = append(broken, fmt.Sprintf("its exception %s is not a package of %s", e, r.from))
		}
	}
	slices.Sort(rels)
	for _, rel := range rels {
		if slices.Contains(r.except, rel) {
			continue
		}
		n++
		imports := pkgs[rel].Imports
		if tests {
			imports = slices.Concat(imports, pkgs[rel].TestImports)
		}
		for _, imp := range imports {
			if r.bad(imp) {
				broken = append(broken, fmt.Sprintf("%s imports %s", path.Join(modulePath, rel), imp))
			}
		}
	}
	return broken, n
}

// TestLayers checks the rules between the module's packages on their
// imports, and on the imports of their tests in the same package. It
// needs no server.
func TestLayers(t *testing.T) {
	pkgs := modulePackages(t)
	for _, want := range []string{".", "internal/cache", "internal/format", "internal/store", "internal/store/storetest", "internal/commitlog", "internal/commitlog/logtest", "internal/tx", "internal/plan", "internal/engine", "internal/versions", "dynamodb"} {
		if pkgs[want] == nil {
			t.Fatalf("the packages of the module (%d) do not include %s", len(pkgs), want)
		}
	}
	for _, r := range layerRules {
		broken, n := violations(r, pkgs)
		for _, b := range broken {
			t.Errorf("rule %q: %s", r.rule, b)
		}
		if n == 0 {
			t.Errorf("rule %q binds no package (%s)", r.rule, r.from)
		}
	}
}

// TestLayersCanFail shows rule 7 failing on made-up packages: the root
// importing the SDK through a package of the module two steps down, and
// s3vfs/dynamodb importing the root; a test of the root importing the SDK
// (as the root's do, through dyntest) breaks nothing.
func TestLayersCanFail(t *testing.T) {
	const sdk = "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	pkgs := map[string]*build.Package{
		".":              {Imports: []string{"context", modulePath + "/internal/a"}, TestImports: []string{sdk}},
		"internal/a":     {Imports: []string{modulePath + "/internal/b"}},
		"internal/b":     {Imports: []string{sdk + "/types"}},
		"internal/other": {Imports: []string{sdk}},
		"dynamodb":       {Imports: []string{sdk, modulePath + "/internal/store", modulePath}},
	}
	want := map[string][]string{
		"deps(.)":  {modulePath + "/internal/b imports " + sdk + "/types"},
		"dynamodb": {modulePath + "/dynamodb imports " + modulePath},
	}
	for _, r := range layerRules {
		if !strings.HasPrefix(r.rule, "7.") {
			continue
		}
		got, _ := violations(r, pkgs)
		if !slices.Equal(got, want[r.from]) {
			t.Errorf("rule %q on made-up packages: %q, want %q", r.rule, got, want[r.from])
		}
		delete(want, r.from)
	}
	if len(want) != 0 {
		t.Errorf("no rule 7 binds %v", slices.Collect(maps.Keys(want)))
	}
}

// TestLayersTxCanFail shows rule 4 failing for internal/tx on a made-up
// package: importing another package of the module, the root, or SQLite
// breaks it, in the package or in its tests; format and the standard
// library do not.
func TestLayersTxCanFail(t *testing.T) {
	const sqlite = "github.com/ncruces/go-sqlite3"
	pkgs := map[string]*build.Package{
		"internal/tx": {
			Imports:     []string{"io", "slices", modulePath + "/internal/format", modulePath + "/internal/store", sqlite},
			TestImports: []string{"testing", modulePath},
		},
	}
	want := []string{
		modulePath + "/internal/tx imports " + modulePath + "/internal/store",
		modulePath + "/internal/tx imports " + sqlite,
		modulePath + "/internal/tx imports " + modulePath,
	}
	n := 0
	for _, r := range layerRules {
		if r.from != "internal/tx" {
			continue
		}
		n++
		if got, _ := violations(r, pkgs); !slices.Equal(got, want) {
			t.Errorf("rule %q on a made-up package: %q, want %q", r.rule, got, want)
		}
	}
	if n != 1 {
		t.Errorf("%d rules bind internal/tx, want 1", n)
	}
}

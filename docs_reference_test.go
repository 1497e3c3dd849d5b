package s3vfs_test

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/s3vfs/s3vfs"
	"github.com/s3vfs/s3vfs/dynamodb"
	"github.com/s3vfs/s3vfs/internal/uriparams"
)

// referenceRow is one row of the table of docs/reference.md.
type referenceRow struct {
	names []string // the backticked names of the Name column
	kind  string   // URI, Options, GC, env, PRAGMA
	def   string
	line  string
}

var backticked = regexp.MustCompile("`([^`]*)`")

// referenceTable parses the table of docs/reference.md (Name, Kind,
// Default, Meaning) and returns its rows and the rest of the file.
func referenceTable(t *testing.T) (rows []referenceRow, text string) {
	t.Helper()
	b, err := os.ReadFile("docs/reference.md")
	if err != nil {
		t.Fatal(err)
	}
	text = string(b)
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.ReplaceAll(strings.Trim(line, "| "), `\|`, "\x00"), "|")
		for i, c := range cells {
			cells[i] = strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|"))
		}
		if len(cells) < 4 || cells[0] == "Name" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		r := referenceRow{kind: cells[1], def: cells[2], line: line}
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			r.names = append(r.names, m[1])
		}
		rows = append(rows, r)
	}
	if len(rows) < 20 {
		t.Fatalf("docs/reference.md: %d rows in its table", len(rows))
	}
	return rows, text
}

// exportedFields returns the exported fields of the struct v, sorted.
func exportedFields(v any) []string {
	var out []string
	typ := reflect.TypeOf(v)
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() {
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestDocsReference holds docs/reference.md to the code: every URI
// parameter a database may carry (internal/uriparams) is in it and every
// one it names is known; its Options and GC rows are exactly the fields of
// Options and GCOptions; every S3VFS_ variable it names is read somewhere;
// it and docs/compatibility.md name the DynamoDB coordinator's functions
// as the package s3vfs/dynamodb exports them.
func TestDocsReference(t *testing.T) {
	rows, text := referenceTable(t)
	compat, err := os.ReadFile("docs/compatibility.md")
	if err != nil {
		t.Fatal(err)
	}
	// The values hold the names to the code: a rename fails to compile.
	for name, f := range map[string]any{"dynamodb.NewCoordinator": dynamodb.NewCoordinator, "dynamodb.CreateTable": dynamodb.CreateTable} {
		for doc, text := range map[string]string{"docs/reference.md": text, "docs/compatibility.md": string(compat)} {
			if f != nil && !strings.Contains(text, name+"(") && !strings.Contains(text, name+"`") {
				t.Errorf("%s does not name %s", doc, name)
			}
		}
	}
	byKind := map[string][]string{}
	var otherURI string // the row of the other names SQLite and the wrappers read
	for _, r := range rows {
		if r.kind == "URI" && len(r.names) == 0 {
			otherURI = r.line
		}
		byKind[r.kind] = append(byKind[r.kind], r.names...)
	}
	for _, n := range uriparams.Names() {
		if !slices.Contains(byKind["URI"], n) && !strings.Contains(otherURI, "`"+n+"`") {
			t.Errorf("docs/reference.md does not document the URI parameter %q", n)
		}
	}
	for _, n := range byKind["URI"] {
		if !uriparams.Known(n) {
			t.Errorf("docs/reference.md documents the URI parameter %q, which is refused as unknown", n)
		}
	}
	for _, m := range backticked.FindAllStringSubmatch(otherURI, -1) {
		if n := m[1]; n != "_" && !uriparams.Known(n) {
			t.Errorf("docs/reference.md passes %q through, which is refused as unknown", n)
		}
	}

	compare := func(kind, prefix string, fields []string) {
		var documented []string
		for _, n := range byKind[kind] {
			documented = append(documented, strings.TrimPrefix(n, prefix))
		}
		slices.Sort(documented)
		for _, f := range fields {
			if !slices.Contains(documented, f) {
				t.Errorf("docs/reference.md does not document %s%s", prefix, f)
			}
		}
		for _, d := range documented {
			if !slices.Contains(fields, d) {
				t.Errorf("docs/reference.md documents %s%s, which does not exist", prefix, d)
			}
		}
	}
	compare("Options", "", exportedFields(s3vfs.Options{}))
	compare("GC", "GCOptions.", exportedFields(s3vfs.GCOptions{}))

	var source strings.Builder
	for _, dir := range []string{".", "embed", "cmd/s3vfs", "internal/awsconf"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			source.Write(b)
		}
	}
	for _, n := range byKind["env"] {
		if strings.HasPrefix(n, "S3VFS_") && !strings.Contains(source.String(), `"`+n+`"`) {
			t.Errorf("docs/reference.md documents the environment variable %s, which nothing reads", n)
		}
	}
}

// TestDocsReferencePragmas runs every PRAGMA docs/reference.md names: one
// that its row, or its sentence, says is refused must fail, and the others
// must not; PRAGMA s3vfs_stats prints exactly the counters the reference
// lists, and PRAGMA journal_mode=WAL keeps the mode it says.
func TestDocsReferencePragmas(t *testing.T) {
	rows, text := referenceTable(t)
	e := newEnv(t, nil)
	db := e.open("pragmas.db")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")

	// Each PRAGMA with the text that says what it does: its table row, or
	// the sentence it is in.
	refused := map[string]bool{}
	prose := strings.Join(slices.DeleteFunc(strings.Split(text, "\n"), func(l string) bool { return strings.HasPrefix(l, "| ") }), " ")
	for _, sentence := range strings.Split(prose, ". ") {
		for _, m := range backticked.FindAllStringSubmatch(sentence, -1) {
			if strings.HasPrefix(m[1], "PRAGMA ") {
				refused[m[1]] = refused[m[1]] || strings.Contains(sentence, "refused")
			}
		}
	}
	var stats, wal *referenceRow
	for i, r := range rows {
		if r.kind != "PRAGMA" {
			continue
		}
		for _, n := range r.names {
			refused[n] = refused[n] || strings.Contains(r.def, "refused")
			switch n {
			case "PRAGMA s3vfs_stats":
				stats = &rows[i]
			case "PRAGMA journal_mode=WAL":
				wal = &rows[i]
			}
		}
	}
	if stats == nil || wal == nil {
		t.Fatalf("docs/reference.md has no row for PRAGMA s3vfs_stats or PRAGMA journal_mode=WAL")
	}
	for _, p := range slices.Sorted(maps.Keys(refused)) {
		_, err := db.Exec(p)
		switch {
		case refused[p] && err == nil:
			t.Errorf("docs/reference.md says %q is refused; it runs", p)
		case !refused[p] && err != nil:
			t.Errorf("docs/reference.md does not say %q is refused; it fails: %v", p, err)
		}
	}
	if mode := queryString(t, db, "PRAGMA journal_mode=WAL"); mode == "wal" || !strings.Contains(wal.line, "`"+mode+"`") {
		t.Errorf("PRAGMA journal_mode=WAL answers %q; docs/reference.md says:\n%s", mode, wal.line)
	}

	// The counters of s3vfs_stats: the first backticked list of its row.
	var documented []string
	for _, m := range backticked.FindAllStringSubmatch(stats.line, -1) {
		if f := strings.Fields(m[1]); len(f) > 3 {
			documented = f
			break
		}
	}
	var printed []string
	for _, kv := range strings.Fields(queryString(t, db, "PRAGMA s3vfs_stats")) {
		name, _, _ := strings.Cut(kv, "=")
		printed = append(printed, name)
	}
	if !slices.Equal(documented, printed) {
		t.Errorf("PRAGMA s3vfs_stats prints %q; docs/reference.md lists %q", printed, documented)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The documentation of the command cannot drift from the binary: every
// command "s3vfs help" lists has a section "## s3vfs NAME" in docs/cli.md,
// whose flag tables (columns Flag and Default) list exactly the flags of
// its --help, each with the default --help gives (empty for none); the
// flags every S3 command takes are in the table of the section on
// configuring AWS. Every --flag that docs/cli.md mentions exists, every
// one that a command line in the other guides gives to "s3vfs NAME" is
// NAME's, and README.md's entry for docs/cli.md names every command.
// (TestInfo holds the example of info to what it prints;
// TestGettingStarted runs step 2 of docs/getting-started.md.)

// helpFlag is a flag as --help prints it.
type helpFlag struct {
	name, def string // def is "" when --help gives no default
}

// commandNames returns the commands "s3vfs help" lists.
func commandNames(t *testing.T) []string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(out.String(), "Commands:\n")
	if !ok {
		t.Fatalf("s3vfs help lists no commands:\n%s", out.String())
	}
	list, _, _ = strings.Cut(strings.TrimLeft(list, "\n"), "\n\n")
	var names []string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	if len(names) < 10 {
		t.Fatalf("s3vfs help lists %d commands: %q", len(names), names)
	}
	return names
}

var helpFlagLine = regexp.MustCompile(`^  -([a-z][a-z0-9-]*)`)

// usageDefault returns the default a flag's usage gives, "(default X)" or
// "(default: X)", the last if several: what flag.PrintDefaults appends, or
// what the usage says itself when the zero value stands for it.
func usageDefault(usage string) string {
	i := strings.LastIndex(usage, "(default")
	if i < 0 {
		return ""
	}
	rest := usage[i+len("(default"):]
	depth := 0
	for j, r := range rest {
		switch r {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				d := strings.TrimSpace(strings.TrimPrefix(rest[:j], ":"))
				if u, err := strconv.Unquote(d); err == nil {
					d = u
				}
				return d
			}
			depth--
		}
	}
	return ""
}

// commandFlags runs "s3vfs NAME --help" in process and returns the flags
// it prints, by name.
func commandFlags(t *testing.T, name string) map[string]helpFlag {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), []string{name, "--help"}, strings.NewReader(""), &out, &out)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("s3vfs %s --help: %v", name, err)
	}
	flags := map[string]helpFlag{}
	lines := strings.Split(out.String(), "\n")
	for i, line := range lines {
		m := helpFlagLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := helpFlag{name: m[1]}
		// The usage follows on lines that start with a tab.
		var usage []string
		for _, u := range lines[i+1:] {
			if !strings.HasPrefix(u, "    \t") {
				break
			}
			usage = append(usage, strings.TrimPrefix(u, "    \t"))
		}
		f.def = usageDefault(strings.Join(usage, " "))
		flags[f.name] = f
	}
	return flags
}

// docSection is a "## " section of a Markdown file.
type docSection struct {
	title string
	lines []string
}

func readSections(t *testing.T, path string) []docSection {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var secs []docSection
	cur := docSection{title: "(top)"}
	for _, line := range strings.Split(string(b), "\n") {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			secs = append(secs, cur)
			cur = docSection{title: title}
			continue
		}
		cur.lines = append(cur.lines, line)
	}
	return append(secs, cur)
}

// docFlagRow is one row of a flag table.
type docFlagRow struct {
	name, def string
	line      string
}

// flagTables returns the rows of the section's tables whose first column
// is Flag; t fails if such a table has no Default column.
func flagTables(t *testing.T, sec docSection) []docFlagRow {
	t.Helper()
	var rows []docFlagRow
	flagCol, defCol := -1, -1
	for i, line := range sec.lines {
		if !strings.HasPrefix(line, "|") {
			flagCol, defCol = -1, -1
			continue
		}
		cells := tableCells(line)
		if i == 0 || !strings.HasPrefix(sec.lines[i-1], "|") { // a header
			if strings.EqualFold(cells[0], "flag") {
				flagCol = 0
				if defCol = slices.IndexFunc(cells, func(c string) bool { return strings.EqualFold(c, "default") }); defCol < 0 {
					t.Errorf("docs/cli.md, %s: a flag table without a Default column: %s", sec.title, line)
				}
			}
			continue
		}
		if flagCol < 0 || defCol < 0 || strings.HasPrefix(cells[0], "--") && strings.Trim(cells[0], "-: ") == "" {
			continue // not a flag table, or the separator row
		}
		f := strings.Fields(strings.Trim(cells[flagCol], "`"))
		if len(f) == 0 || !strings.HasPrefix(f[0], "--") {
			t.Errorf("docs/cli.md, %s: a flag table row that names no --flag: %s", sec.title, line)
			continue
		}
		rows = append(rows, docFlagRow{
			name: strings.TrimPrefix(f[0], "--"),
			def:  strings.ReplaceAll(cells[defCol], "`", ""),
			line: line,
		})
	}
	return rows
}

// tableCells splits a Markdown table row into its trimmed cells.
func tableCells(line string) []string {
	line = strings.ReplaceAll(strings.Trim(strings.TrimSpace(line), "|"), `\|`, "\x00")
	cells := strings.Split(line, "|")
	for i, c := range cells {
		cells[i] = strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|"))
	}
	return cells
}

var (
	flagMention  = regexp.MustCompile(`--[a-z][a-z0-9-]*`)
	codeSpan     = regexp.MustCompile("`[^`]*`")
	commandInCmd = regexp.MustCompile(`\bs3vfs ([a-z]+)\b`)
)

// flagMentions calls check for each --flag in lines, with the command
// that takes it when a command line in the same code span or code line
// names one ("s3vfs NAME ... --flag"), else "". Prose is read a paragraph
// at a time (a code span may span lines), and only code is looked at
// unless prose is set.
func flagMentions(lines []string, prose bool, check func(text, command, flag string)) {
	inCode := func(c string) {
		for _, loc := range flagMention.FindAllStringIndex(c, -1) {
			command := ""
			if m := commandInCmd.FindAllStringSubmatch(c[:loc[0]], -1); m != nil {
				command = m[len(m)-1][1]
			}
			check(c, command, c[loc[0]+2:loc[1]])
		}
	}
	var para []string
	flush := func() {
		text := strings.Join(para, " ")
		para = para[:0]
		for _, c := range codeSpan.FindAllString(text, -1) {
			inCode(c)
		}
		if prose {
			for _, m := range flagMention.FindAllString(codeSpan.ReplaceAllString(text, ""), -1) {
				check(text, "", m[2:])
			}
		}
	}
	fenced := false
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			flush()
			fenced = !fenced
		case fenced || strings.HasPrefix(line, "    ") && len(para) == 0:
			inCode(line) // a code line
		case trimmed == "" || strings.HasPrefix(trimmed, "|"):
			flush()
			if trimmed != "" {
				para = append(para, line) // a table row is a paragraph of its own
				flush()
			}
		default:
			para = append(para, line)
		}
	}
	flush()
}

func TestDocsCLI(t *testing.T) {
	names := commandNames(t)
	flags := map[string]map[string]helpFlag{}
	known := map[string]bool{"help": true, "version": true} // s3vfs --help, --version
	for _, n := range names {
		flags[n] = commandFlags(t, n)
		for f := range flags[n] {
			known[f] = true
		}
	}
	flags["history"] = flags["log"]

	secs := readSections(t, "../../docs/cli.md")
	// The flags every S3 command takes: the tables outside command sections.
	common := map[string]docFlagRow{}
	bySection := map[string]docSection{}
	for _, s := range secs {
		if name, ok := strings.CutPrefix(s.title, "s3vfs "); ok {
			bySection[name] = s
			continue
		}
		for _, r := range flagTables(t, s) {
			common[r.name] = r
		}
	}
	if _, ok := common["endpoint"]; !ok {
		t.Fatal("docs/cli.md has no table of the AWS flags (--endpoint and the others)")
	}

	for _, n := range names {
		sec, ok := bySection[n]
		if !ok {
			t.Errorf("docs/cli.md has no section \"## s3vfs %s\"", n)
			continue
		}
		help := flags[n]
		documented := map[string]docFlagRow{}
		for _, r := range flagTables(t, sec) {
			if _, dup := documented[r.name]; dup {
				t.Errorf("docs/cli.md, s3vfs %s: --%s is in its flag tables twice", n, r.name)
			}
			documented[r.name] = r
		}
		// The AWS flags: all or none.
		var has, lacks []string
		for c := range common {
			if _, ok := help[c]; ok {
				has = append(has, c)
			} else {
				lacks = append(lacks, c)
			}
		}
		if len(has) > 0 && len(lacks) > 0 {
			t.Errorf("s3vfs %s takes the AWS flags %q but not %q, as docs/cli.md lists them", n, has, lacks)
		}
		for _, c := range has {
			if _, dup := documented[c]; dup {
				t.Errorf("docs/cli.md, s3vfs %s: --%s is in the table of the AWS flags, not the command's", n, c)
			}
			documented[c] = common[c]
		}
		for _, f := range sortedKeys(help) {
			r, ok := documented[f]
			switch {
			case !ok:
				t.Errorf("docs/cli.md, s3vfs %s: --%s (s3vfs %s --help) is in no flag table", n, f, n)
			case r.def != help[f].def:
				t.Errorf("docs/cli.md, s3vfs %s: --%s has the default %q, s3vfs %s --help says %q:\n%s", n, f, r.def, n, help[f].def, r.line)
			}
		}
		for _, f := range sortedKeys(documented) {
			if _, ok := help[f]; !ok {
				t.Errorf("docs/cli.md, s3vfs %s: --%s is documented, but s3vfs %s has no such flag:\n%s", n, f, n, documented[f].line)
			}
		}
	}
	for name := range bySection {
		if !slices.Contains(names, name) {
			t.Errorf("docs/cli.md has a section \"## s3vfs %s\", and s3vfs help lists no such command", name)
		}
	}

	// The README's entry for docs/cli.md names every command.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, entry, _ := strings.Cut(string(readme), "[docs/cli.md](docs/cli.md)")
	entry, _, _ = strings.Cut(entry, "\n")
	for _, n := range names {
		if !strings.Contains(entry, "`"+n+"`") {
			t.Errorf("README.md's entry for docs/cli.md does not name the command %s: %s", n, entry)
		}
	}

	// Every flag mentioned exists: for the command a command line names,
	// else for some command.
	check := func(file string) func(line, command, f string) {
		return func(line, command, f string) {
			switch cf, ok := flags[command]; {
			case f == "help":
			case command != "" && ok:
				if _, ok := cf[f]; !ok {
					t.Errorf("%s: s3vfs %s has no flag --%s:\n%s", file, command, f, line)
				}
			case !known[f]:
				t.Errorf("%s: no command has a flag --%s:\n%s", file, f, line)
			}
		}
	}
	for _, s := range secs {
		flagMentions(s.lines, true, check("docs/cli.md"))
	}
	for _, file := range []string{"../../README.md", "../../docs/getting-started.md", "../../docs/migrating.md", "../../docs/history.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		flagMentions(strings.Split(string(b), "\n"), false, func(line, command, f string) {
			if command != "" { // only command lines of s3vfs: the guides show other tools too
				check(strings.TrimPrefix(file, "../../"))(line, command, f)
			}
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// docExample returns the output lines of the first example in docs/cli.md
// whose command line starts with "$ " + command, without their
// indentation.
func docExample(t *testing.T, command string) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n    $ "+command)
	if !ok {
		t.Fatalf("docs/cli.md has no example of %q", command)
	}
	var out []string
	for _, line := range strings.Split(rest, "\n")[1:] {
		if !strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "    $ ") {
			break
		}
		out = append(out, strings.TrimPrefix(line, "    "))
	}
	return out
}

// labelled returns the "label: value" lines of output by label.
func labelled(lines []string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

package docsnippets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// documents are the files whose Go blocks this package holds.
var documents = []string{"../../README.md", "../../docs/migrating.md"}

// normalized returns the lines of text with their indentation and runs of
// spaces dropped, as gofmt may lay them out in another context.
func normalized(text string) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

// goBlocks returns the ```go blocks of a Markdown text.
func goBlocks(text string) []string {
	var blocks []string
	for {
		_, rest, ok := strings.Cut(text, "\n```go\n")
		if !ok {
			return blocks
		}
		block, after, _ := strings.Cut(rest, "\n```")
		blocks = append(blocks, block)
		text = after
	}
}

// chunks splits a block at its blank lines.
func chunks(block string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range normalized(block) {
		if l == "" {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// holds reports whether lines holds every chunk as a run of lines, in order.
func holds(lines []string, chunks [][]string) bool {
	at := 0
	for _, c := range chunks {
		found := false
		for ; at+len(c) <= len(lines); at++ {
			if equal(lines[at:at+len(c)], c) {
				at += len(c)
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSnippets checks that every Go block of the documents is in one of
// this package's files: each run of lines between blank lines, in order,
// indentation aside. The package compiles, so the snippets do.
func TestSnippets(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string][]string{}
	for _, f := range files {
		if f == "snippets_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources[f] = normalized(string(b))
	}
	for _, doc := range documents {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := goBlocks(string(b))
		if len(blocks) == 0 {
			t.Errorf("%s has no Go block", doc)
		}
	next:
		for _, block := range blocks {
			for _, lines := range sources {
				if holds(lines, chunks(block)) {
					continue next
				}
			}
			t.Errorf("a Go block of %s is in no file of internal/docsnippets, so nothing compiles it; copy it into one, in a function or import block:\n%s",
				strings.TrimPrefix(doc, "../../"), block)
		}
	}
}

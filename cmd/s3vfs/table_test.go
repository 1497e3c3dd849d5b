package main

import (
	"strings"
	"testing"
)

// TestTableStreams checks that a table holds back only its first
// tableSample rows: after them, each row is printed as it comes, and a
// later, wider value widens its own line only.
func TestTableStreams(t *testing.T) {
	var out strings.Builder
	tw := newTableWriter(&out, []string{"id", "name"})
	for i := range tableSample - 1 {
		if err := tw.row([]string{"1", "ab"}); err != nil {
			t.Fatal(i, err)
		}
	}
	if out.Len() != 0 {
		t.Fatalf("printed before the sample was full:\n%s", out.String())
	}
	tw.row([]string{"1", "ab"})
	lines := strings.Count(out.String(), "\n")
	if want := 3 + tableSample; lines != want {
		t.Fatalf("after the sample: %d lines printed, want %d (border, header, rule, rows)", lines, want)
	}
	tw.row([]string{"22", "a much longer name"})
	if got, want := strings.Count(out.String(), "\n"), lines+1; got != want {
		t.Fatalf("a row after the sample was not printed at once: %d lines, want %d", got, want)
	}
	if err := tw.close(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"┌────┬──────┐", "│ id │ name │", "├────┼──────┤", "│ 1  │ ab   │"}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d: %q, want %q", i, got[i], w)
		}
	}
	if last := got[len(got)-2]; last != "│ 22 │ a much longer name │" {
		t.Errorf("the wide row: %q", last)
	}
	if end := got[len(got)-1]; end != "└────┴──────┘" {
		t.Errorf("bottom border: %q", end)
	}
}

// TestTableMultiLine checks values with newlines and wide characters.
func TestTableMultiLine(t *testing.T) {
	var out strings.Builder
	tw := newTableWriter(&out, []string{"k", "v"})
	tw.row([]string{"日本", "two\nlines"})
	tw.close()
	want := `┌──────┬───────┐
│  k   │   v   │
├──────┼───────┤
│ 日本 │ two   │
│      │ lines │
└──────┴───────┘
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

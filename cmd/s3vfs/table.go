package main

import (
	"io"
	"strings"

	"github.com/mattn/go-runewidth"
)

// tableSample is how many rows a table holds back to size its columns;
// later rows are printed as they come, so a result of any size is printed
// in bounded memory.
const tableSample = 1000

// tableWriter prints rows as a box-drawn table, as sqlite3's ".mode box".
// Column widths come from the header and the first tableSample rows; a
// later, wider value widens its own line only.
type tableWriter struct {
	w       io.Writer
	header  []string
	widths  []int
	sample  [][]string // rows held back until the widths are known
	started bool       // the header is printed
	err     error      // the first write error
}

// newTableWriter returns a table with the given column names.
func newTableWriter(w io.Writer, header []string) *tableWriter {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = cellWidth(h)
	}
	return &tableWriter{w: w, header: header, widths: widths}
}

// row adds one row; it must have a value per column. The table keeps the
// row only while it sizes the columns.
func (t *tableWriter) row(r []string) error {
	if t.started {
		t.line(r, false)
		return t.err
	}
	for i, v := range r {
		t.widths[i] = max(t.widths[i], cellWidth(v))
	}
	t.sample = append(t.sample, r)
	if len(t.sample) == tableSample {
		t.start()
	}
	return t.err
}

// close prints what is held back and the bottom border.
func (t *tableWriter) close() error {
	if !t.started {
		t.start()
	}
	t.border('└', '┴', '┘')
	return t.err
}

// start prints the top border, the header and the rows held back.
func (t *tableWriter) start() {
	t.started = true
	t.border('┌', '┬', '┐')
	t.line(t.header, true)
	t.border('├', '┼', '┤')
	for _, r := range t.sample {
		t.line(r, false)
	}
	t.sample = nil
}

// border prints a horizontal rule with the given corner and joint runes.
func (t *tableWriter) border(left, joint, right rune) {
	var b strings.Builder
	b.WriteRune(left)
	for i, w := range t.widths {
		if i > 0 {
			b.WriteRune(joint)
		}
		b.WriteString(strings.Repeat("─", w+2))
	}
	b.WriteRune(right)
	b.WriteByte('\n')
	t.write(b.String())
}

// line prints one row, as many lines high as its tallest value; header
// names are centred, values start at the left.
func (t *tableWriter) line(r []string, centre bool) {
	cells := make([][]string, len(r))
	height := 1
	for i, v := range r {
		cells[i] = strings.Split(v, "\n")
		height = max(height, len(cells[i]))
	}
	var b strings.Builder
	for l := range height {
		b.WriteString("│")
		for i, c := range cells {
			v := ""
			if l < len(c) {
				v = strings.TrimSuffix(c[l], "\r")
			}
			pad := max(0, t.widths[i]-runewidth.StringWidth(v))
			left := 0
			if centre {
				left = pad / 2
			}
			b.WriteString(" ")
			b.WriteString(strings.Repeat(" ", left))
			b.WriteString(v)
			b.WriteString(strings.Repeat(" ", pad-left))
			b.WriteString(" │")
		}
		b.WriteByte('\n')
	}
	t.write(b.String())
}

func (t *tableWriter) write(s string) {
	if t.err == nil {
		_, t.err = io.WriteString(t.w, s)
	}
}

// cellWidth is the width of a value on a terminal: its widest line.
func cellWidth(v string) int {
	w := 0
	for line := range strings.SplitSeq(v, "\n") {
		w = max(w, runewidth.StringWidth(strings.TrimSuffix(line, "\r")))
	}
	return w
}

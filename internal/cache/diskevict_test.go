package cache

import (
	"slices"
	"testing"
	"time"
)

func TestDiskCachePlanEviction(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	entry := func(path string, size int64, ago time.Duration) diskFile {
		return diskFile{path: path, size: size, mtime: at(ago)}
	}
	temp := func(path string, ago time.Duration) diskFile {
		return diskFile{path: path, size: 50, mtime: at(ago), temp: true}
	}
	paths := func(fs []diskFile) []string {
		var p []string
		for _, f := range fs {
			p = append(p, f.path)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		files []diskFile
		limit int64
		want  []string
		kept  int64
	}{
		{"empty", nil, 100, nil, 0},
		{"fits", []diskFile{entry("a", 40, 3*time.Hour), entry("b", 60, time.Hour)}, 100, nil, 100},
		{
			"oldest first, down to 7/8",
			[]diskFile{entry("new", 40, time.Second), entry("old", 40, 3*time.Hour), entry("mid", 40, time.Hour)},
			100, []string{"old"}, 80,
		},
		{
			"ties by path",
			[]diskFile{entry("b", 60, time.Hour), entry("a", 60, time.Hour)},
			100, []string{"a"}, 60,
		},
		{
			"stale temporary files go, fresh ones stay and do not count",
			[]diskFile{temp("dead", time.Hour), temp("writing", time.Second), entry("e", 100, time.Hour)},
			100, []string{"dead"}, 100,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, kept := planEviction(tc.files, tc.limit, now)
			if !slices.Equal(paths(got), tc.want) || kept != tc.kept {
				t.Errorf("planEviction = %v, kept %d; want %v, kept %d", paths(got), kept, tc.want, tc.kept)
			}
		})
	}
}

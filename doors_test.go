package s3vfs

import (
	"reflect"
	"testing"
	"time"

	"github.com/s3vfs/s3vfs/internal/versions"
)

// TestGCReportOfKeepsEveryField fills every field of a versions.GCReport
// and checks that the root's GCReport made of it has every field set: a
// field added to one type and not converted would be dropped silently
// (the other doors convert by Go's struct conversion, which the compiler
// checks).
func TestGCReportOfKeepsEveryField(t *testing.T) {
	var in versions.GCReport
	fill(reflect.ValueOf(&in).Elem())
	out := gcReportOf(in)
	if n, m := reflect.TypeOf(in).NumField(), reflect.TypeOf(out).NumField(); n != m {
		t.Fatalf("versions.GCReport has %d fields, the root's GCReport %d", n, m)
	}
	ov := reflect.ValueOf(out)
	for i := range ov.NumField() {
		if ov.Field(i).IsZero() {
			t.Errorf("GCReport.%s is zero after gcReportOf", ov.Type().Field(i).Name)
		}
	}
}

// fill sets every field of v, recursively, to a nonzero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			v.SetInt(int64(time.Second))
			return
		}
		v.SetInt(7)
	case reflect.Uint64:
		v.SetUint(7)
	default:
		panic("fill: a field of kind " + v.Kind().String())
	}
}

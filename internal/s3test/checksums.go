package s3test

import (
	"net/http"
	"strings"

	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// StripChecksums makes p answer like a store that sends no response
// checksums (MinIO): the server's responses reach the client without
// their x-amz-checksum-* headers.
func StripChecksums(p *s3proxy.Proxy) {
	p.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		rec := Forward(p, r)
		for k, v := range rec.Header() {
			if !strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return true
	})
}
